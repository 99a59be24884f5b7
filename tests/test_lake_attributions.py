"""Attribution rows kept in the Spark engine's lake (schema 8): the store names the parts
(attribution_parts), its view `attributions` reads them as if they were stored, a re-analysis or an
overlapping analysis never reads a replaced part or a row twice, and a moved lake is adopted.

Without a cluster: the parts are written here from what a single-machine analysis stored, as the
Spark engine's job 2 tasks write them (one part per group of partitions). tests/test_spark.py runs
the real thing."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest

from zsaudit.analyze.analysis import analysis_id_for, analyze
from zsaudit.ingest import airflow, zscaler
from zsaudit.lake import Lake
from zsaudit.store import Store, name_attribution_parts
from zsaudit.synth import synthesize

NIGHT = (datetime(2026, 11, 24, tzinfo=timezone.utc), datetime(2026, 11, 25, tzinfo=timezone.utc))
HALF = (datetime(2026, 11, 24, 12, tzinfo=timezone.utc), datetime(2026, 11, 25, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("night"), requests=200, seed=5)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, night):
    """The night ingested once a module; each test analyses a copy of the closed store file."""
    path = tmp_path_factory.mktemp("ingested") / "zsaudit.duckdb"
    with Store(path) as s:
        zscaler.ingest_paths(s, [str(night.out_dir / "zscaler")])
        airflow.ingest_paths(s, [str(night.out_dir / "airflow" / "logs"),
                                 str(night.out_dir / "airflow" / "task_instances.json")])
    return path


@pytest.fixture
def store(tmp_path, ingested):
    shutil.copyfile(ingested, tmp_path / "zsaudit.duckdb")
    with Store(tmp_path / "zsaudit.duckdb") as s:
        yield s


def everything(store) -> list:
    return store.con.execute("SELECT * FROM attributions ORDER BY analysis_id, request_table, request_rid").fetchall()


def move_to_lake(store, lake: Lake, analysis_id: str, groups: int = 3) -> list:
    """What the Spark engine leaves: the analysis' narrow rows as `groups` Parquet parts in the
    lake, named in the store, none of them in attribution_rows."""
    con = store.con
    work = lake.root / lake.work(con, analysis_id) / "rows"
    work.mkdir(parents=True, exist_ok=True)
    with store.transaction():
        for g in range(groups):
            con.execute(f"COPY (SELECT * FROM attribution_rows WHERE analysis_id = ? AND hash(request_rid) % {groups} = {g}) "
                        f"TO '{work / f'part-{g}-0.parquet'}'", [analysis_id])
        con.execute("DELETE FROM attribution_rows WHERE analysis_id = ?", [analysis_id])
        lake.keep_attribution_parts(con, analysis_id, sorted(work.glob("part-*.parquet")))
    return sorted(p.relative_to(lake.root).as_posix() for p in (lake.root / "attribution_rows").rglob("*.parquet"))


def stored(store) -> int:
    return store.con.execute("SELECT count(*) FROM attribution_rows").fetchone()[0]


def test_a_store_without_lake_parts_reads_what_it_stored(store, night):
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    assert store.con.execute("SELECT count(*) FROM attribution_parts").fetchone()[0] == 0
    assert store.con.execute("SELECT count(*) FROM attribution_lake_rows").fetchone()[0] == 0
    assert len(everything(store)) == stored(store) > 0


def test_the_view_reads_the_lake_parts_as_the_stored_rows(store, night, tmp_path):
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    before = everything(store)
    lake = Lake.at(tmp_path / "lake")
    parts = move_to_lake(store, lake, analysis_id_for(*NIGHT))
    assert len(parts) == 3 and all(p.startswith(f"attribution_rows/analysis={analysis_id_for(*NIGHT)}/part-")
                                   for p in parts)
    assert stored(store) == 0
    assert everything(store) == before
    store.con.close()            # a read-only open (zsaudit findings, report) reads them too
    with Store(store.path, read_only=True) as again:
        assert everything(again) == before


def test_a_reanalysis_does_not_read_the_parts_it_replaces(store, night, tmp_path):
    """The same night analysed again (on one machine here): its old lake parts are no longer read,
    so no row is there twice; the next Spark analysis sweeps the files."""
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    before = everything(store)
    lake = Lake.at(tmp_path / "lake")
    parts = move_to_lake(store, lake, analysis_id_for(*NIGHT))
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    assert everything(store) == before and stored(store) == len(before)
    assert store.con.execute("SELECT count(*) FROM attribution_parts").fetchone()[0] == 0
    assert all((lake.root / p).is_file() for p in parts)       # still there, no longer read
    assert lake.sweep_attribution_parts(store.con) == len(parts)
    assert not list((lake.root / "attribution_rows").rglob("*.parquet"))
    assert everything(store) == before


def test_a_reanalysis_in_the_lake_reads_only_its_own_run(store, night, tmp_path):
    """Two Spark runs of one analysis: the second's parts replace the first's in the store; the
    first's files, left in the same folder, are never read, and the sweep removes only them."""
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    before = everything(store)
    lake = Lake.at(tmp_path / "lake")
    first = move_to_lake(store, lake, analysis_id_for(*NIGHT))
    with store.transaction() as con:      # what the second run's step 10 does before keeping its parts
        con.execute("INSERT INTO attribution_rows SELECT * FROM attribution_lake_rows")
        from zsaudit.store import release_attribution_parts

        release_attribution_parts(con, {"analysis_id": analysis_id_for(*NIGHT), "since": NIGHT[0],
                                        "until": NIGHT[1]})
    second = move_to_lake(store, lake, analysis_id_for(*NIGHT))
    assert len(second) == 2 * len(first)          # both runs' files in the folder
    assert everything(store) == before            # only the second's read
    assert lake.sweep_attribution_parts(store.con) == len(first)
    assert everything(store) == before


def test_a_sweep_never_deletes_the_parts_of_another_store_sharing_the_lake(store, night, tmp_path):
    """Two stores pointed at one lake (a staging and a production config, say): each one's sweep
    deletes only the parts it wrote and no longer names; the other store still reads all its rows."""
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    lake = Lake.at(tmp_path / "lake")
    with Store(tmp_path / "other.duckdb") as other:
        zscaler.ingest_paths(other, [str(night.out_dir / "zscaler")])
        airflow.ingest_paths(other, [str(night.out_dir / "airflow" / "logs"),
                                     str(night.out_dir / "airflow" / "task_instances.json")])
        analyze(other, night.identity_path, since=NIGHT[0], until=NIGHT[1])
        theirs = everything(other)
        their_parts = move_to_lake(other, lake, analysis_id_for(*NIGHT))
        move_to_lake(store, lake, analysis_id_for(*NIGHT))
        analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])     # ours replaced: unnamed
        assert lake.sweep_attribution_parts(store.con) == len(their_parts)   # as many as ours: 3 each
        assert all((lake.root / p).is_file() for p in their_parts)
        assert everything(other) == theirs
        assert lake.sweep_attribution_parts(other.con) == 0


def test_an_overlapping_analysis_clears_its_period_from_another_analysis_lake_rows(store, night, tmp_path):
    """As on one machine: analysing part of a night removes that part's rows of the night's analysis
    (step 10); the night's rows outside it stay, read once."""
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    analyze(store, night.identity_path, since=HALF[0], until=HALF[1])
    expected = everything(store)
    lake = Lake.at(tmp_path / "lake")
    # the same two analyses with the night's rows in the lake when the half is analysed
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    move_to_lake(store, lake, analysis_id_for(*NIGHT))
    analyze(store, night.identity_path, since=HALF[0], until=HALF[1])
    assert everything(store) == expected
    night_rows = [r for r in expected if r[-1] == analysis_id_for(*NIGHT)]
    assert night_rows and all(r[2] < HALF[0] for r in night_rows)


def test_a_moved_lake_is_adopted(store, night, tmp_path):
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    before = everything(store)
    lake = Lake.at(tmp_path / "lake")
    move_to_lake(store, lake, analysis_id_for(*NIGHT))
    moved = Lake.at(tmp_path / "elsewhere" / "lake")
    moved.root.parent.mkdir()
    shutil.move(str(lake.root), str(moved.root))
    with pytest.raises(Exception, match="lake"):
        everything(store)
    assert not Lake.at(tmp_path / "empty").adopt_attribution_parts(store)   # not there: left as it was
    assert moved.adopt_attribution_parts(store)
    assert everything(store) == before
    assert not moved.adopt_attribution_parts(store)        # once


def test_a_store_whose_lake_is_gone_is_refused_by_name_when_read(store, night, tmp_path):
    """A lake moved or deleted after the run: `findings` and `report` exit 2 naming the store,
    the missing part and what to run, not a DuckDB file-not-found crash (exit 3)."""
    from click.testing import CliRunner

    from zsaudit.cli import main
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    lake = Lake.at(tmp_path / "lake")
    move_to_lake(store, lake, analysis_id_for(*NIGHT))
    store.con.close()
    shutil.move(str(lake.root), str(tmp_path / "moved"))
    db = tmp_path / "zsaudit.duckdb"
    for args in (["findings", "--db", db], ["report", "--db", db, "--out", tmp_path / "pack"]):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 2, result.output
        assert "parts are missing" in result.output and "attribution_rows/analysis=" in result.output
        assert "zsaudit run --engine spark" in result.output
    assert not (tmp_path / "pack").exists()


def test_the_empty_view_is_restored_when_no_part_is_named(store, night, tmp_path):
    analyze(store, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    move_to_lake(store, Lake.at(tmp_path / "lake"), analysis_id_for(*NIGHT))
    with store.transaction() as con:
        con.execute("DELETE FROM attribution_parts")
        name_attribution_parts(con)
    sql = store.con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'attribution_lake_rows'").fetchone()[0]
    assert "read_parquet" not in sql and everything(store) == []
