"""The Spark engine's lake on an object store (engine.lake = "s3://bucket/prefix"), without a
cluster, against a real S3-compatible server (moto's, tests/s3server.py): parts go to their final
keys whole (S3 has no rename), a task run again replaces its objects and never doubles them, the
store's view reads the attribution parts through fsspec (DuckDB's httpfs is not assumed), a
fresh read-only open reads them too or names a missing one, and one store's sweep never deletes
another's parts. tests/test_spark.py runs a night on a real cluster with its lake on S3."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest

import emulators
from s3server import running_with_bucket
from zsaudit.analyze.analysis import analysis_id_for, analyze
from zsaudit.errors import BadInput
from zsaudit.ingest import airflow, zscaler
from zsaudit.lake import Lake
from zsaudit.store import Store
from zsaudit.synth import synthesize

NIGHT = (datetime(2026, 11, 24, tzinfo=timezone.utc), datetime(2026, 11, 25, tzinfo=timezone.utc))
BUCKET = "zsaudit-lake"


@pytest.fixture(scope="module")
def s3():
    with running_with_bucket(BUCKET) as server:
        yield server


@pytest.fixture
def lake(s3, monkeypatch, request) -> Lake:
    """An empty lake below its own prefix, with the server's endpoint and keys in the environment
    (the standard AWS way, as the object-storage ingest reads them)."""
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    return Lake.at(f"s3://{BUCKET}/{request.node.name}/")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """A store with a night ingested and analysed on one machine (copied by each test)."""
    night = synthesize(tmp_path_factory.mktemp("night"), requests=200, seed=5)
    db = tmp_path_factory.mktemp("store") / "zsaudit.duckdb"
    with Store(db) as s:
        zscaler.ingest_paths(s, [str(night.out_dir / "zscaler")])
        airflow.ingest_paths(s, [str(night.out_dir / "airflow" / "logs"),
                                 str(night.out_dir / "airflow" / "task_instances.json")])
        analyze(s, night.identity_path, since=NIGHT[0], until=NIGHT[1])
    return db


def copy_store(analysed, tmp_path, name: str = "zsaudit.duckdb") -> Store:
    shutil.copyfile(analysed, tmp_path / name)
    return Store(tmp_path / name)


def keys(s3, lake: Lake) -> list[str]:
    prefix = lake.root.partition(f"{BUCKET}/")[2] + "/"
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"][len(prefix):] for o in listed)


def everything(store) -> list:
    return store.con.execute("SELECT * FROM attributions ORDER BY analysis_id, request_table, request_rid").fetchall()


def move_to_lake(store, lake: Lake, analysis_id: str, groups: int = 3) -> list[str]:
    """What the Spark engine leaves: the analysis' narrow rows as `groups` parts its job 2 tasks
    published to the work folder, kept under attribution_rows/ and named in the store."""
    con = store.con
    tmp = lake.tmp_dir()
    work = lake.work(con, analysis_id)
    with store.transaction():
        for g in range(groups):
            (tmp / "rows").mkdir(exist_ok=True)
            con.execute(f"COPY (SELECT * FROM attribution_rows WHERE analysis_id = ? AND hash(request_rid) % {groups} = {g}) "
                        f"TO '{tmp / 'rows' / f'part-{g}-0.parquet'}'", [analysis_id])
        rows = lake.publish(tmp, work)
        con.execute("DELETE FROM attribution_rows WHERE analysis_id = ?", [analysis_id])
        lake.keep_attribution_parts(con, analysis_id, rows)
    lake.remove(work)
    return [f"attribution_rows/{p}" for p in lake.files("attribution_rows")]


def test_an_object_store_lake_is_taken_as_a_prefix(lake):
    assert lake.remote and lake.root == f"s3://{BUCKET}/test_an_object_store_lake_is_taken_as_a_prefix"
    assert lake.path("zia_web", "source=zscaler/x.parquet") == f"{lake.root}/zia_web/source=zscaler/x.parquet"
    assert lake.files("zia_web") == [] and lake.units() == set() and lake.tables() == []


def test_published_parts_go_whole_to_their_final_keys_and_a_retry_replaces_them(s3, lake, tmp_path):
    """No temporary key is ever written (no rename in S3: each object is PUT to its final key), the
    task's local folder is removed, and a task run again writes the same keys with its new bytes."""
    for attempt in (b"first attempt", b"second attempt"):
        tmp = lake.tmp_dir()
        assert not str(tmp).startswith(str(lake.root))          # on the executor's disk, not in the lake
        (tmp / "zia_web" / "source=zscaler" / "day=2026-11-24").mkdir(parents=True)
        (tmp / "zia_web" / "source=zscaler" / "day=2026-11-24" / "part-u1-0.parquet").write_bytes(attempt)
        written = lake.publish(tmp)
        assert written == [lake.path("zia_web/source=zscaler/day=2026-11-24/part-u1-0.parquet")]
        assert not tmp.exists()
    assert keys(s3, lake) == ["zia_web/source=zscaler/day=2026-11-24/part-u1-0.parquet"]
    body = s3.client().get_object(Bucket=BUCKET, Key=written[0].partition(f"{BUCKET}/")[2])["Body"].read()
    assert body == b"second attempt"
    assert lake.units() == set()                        # no ledger part: the unit is not in yet


def test_the_view_reads_attribution_parts_from_s3_and_a_fresh_read_only_open_too(s3, lake, analysed, tmp_path):
    with copy_store(analysed, tmp_path) as store:
        before = everything(store)
        parts = move_to_lake(store, lake, analysis_id_for(*NIGHT))
        assert len(parts) == 3 and store.con.execute("SELECT count(*) FROM attribution_rows").fetchone()[0] == 0
        assert everything(store) == before
        assert not [k for k in keys(s3, lake) if k.startswith(("_work/", "_tmp/"))]
    with Store(tmp_path / "zsaudit.duckdb", read_only=True) as again:    # `report`, `findings`
        assert everything(again) == before
    s3.client().delete_object(Bucket=BUCKET, Key=f"{lake.root.partition(BUCKET + '/')[2]}/{parts[1]}")
    with pytest.raises(BadInput, match="parts are missing") as refused:
        Store(tmp_path / "zsaudit.duckdb", read_only=True)
    assert f"{lake.root}/{parts[1]}" in str(refused.value)


def test_a_sweep_in_s3_never_deletes_the_parts_of_another_store(s3, lake, analysed, tmp_path):
    aid = analysis_id_for(*NIGHT)
    with copy_store(analysed, tmp_path, "ours.duckdb") as ours, copy_store(analysed, tmp_path, "theirs.duckdb") as theirs:
        assert lake.work(ours.con, aid) != lake.work(theirs.con, aid)    # one period, two stores: two work folders
        expected = everything(theirs)
        their_parts = move_to_lake(theirs, lake, aid)
        ours_parts = [p for p in move_to_lake(ours, lake, aid) if p not in their_parts]
        assert len(ours_parts) == len(their_parts) == 3
        with ours.transaction() as con:                  # ours no longer named (a re-analysis replaced it)
            con.execute("DELETE FROM attribution_parts")
        assert lake.sweep_attribution_parts(ours.con) == 3
        assert [f"attribution_rows/{p}" for p in lake.files("attribution_rows")] == their_parts
        assert everything(theirs) == expected and lake.sweep_attribution_parts(theirs.con) == 0


def test_a_store_adopts_its_parts_copied_to_another_prefix(s3, lake, analysed, tmp_path):
    with copy_store(analysed, tmp_path) as store:
        before = everything(store)
        parts = move_to_lake(store, lake, analysis_id_for(*NIGHT))
        moved = Lake.at(f"{lake.root}-moved")
        for p in parts:
            lake.fs.copy(lake.path(p).partition("://")[2], moved.path(p).partition("://")[2])
        assert moved.adopt_attribution_parts(store)
        assert {lake for lake, in store.con.execute("SELECT DISTINCT lake FROM attribution_parts").fetchall()} \
            == {moved.root}
        assert everything(store) == before


# -- the same lake on Google Cloud Storage and Azure Blob Storage (real emulators) ---------------
@pytest.fixture(scope="module", params=["gs", "az"])
def emulated(request):
    """gs: fake-gcs-server; az: Azurite (tests/emulators.py), each a real server on loopback, with
    the bucket (container) the lake lives in."""
    with emulators.running(request.param) as server:
        server.filesystem().mkdir(BUCKET)
        yield request.param, server


@pytest.fixture
def other_lake(emulated, monkeypatch, request) -> Lake:
    scheme, server = emulated
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return Lake.at(f"{scheme}://{BUCKET}/{request.node.name.replace('[', '-').rstrip(']')}/")


def test_a_gcs_or_azure_lake_publishes_keeps_and_reads_parts_as_s3s_does(emulated, other_lake, analysed, tmp_path):
    """What the S3 tests above show, on the two other object stores engine.lake takes: a part PUT to
    its final key and replaced by a retry, the store's view reading the kept parts (a fresh
    read-only open too), and a missing part named."""
    scheme, server = emulated
    assert other_lake.remote and other_lake.root.startswith(f"{scheme}://{BUCKET}/")
    for attempt in (b"first attempt", b"second attempt"):
        tmp = other_lake.tmp_dir()
        (tmp / "zia_web" / "source=zscaler" / "day=2026-11-24").mkdir(parents=True)
        (tmp / "zia_web" / "source=zscaler" / "day=2026-11-24" / "part-u1-0.parquet").write_bytes(attempt)
        written = other_lake.publish(tmp)
        assert written == [other_lake.path("zia_web/source=zscaler/day=2026-11-24/part-u1-0.parquet")]
    assert server.filesystem().cat_file(written[0].partition("://")[2]) == b"second attempt"
    assert other_lake.files("zia_web") == ["source=zscaler/day=2026-11-24/part-u1-0.parquet"]
    with copy_store(analysed, tmp_path) as store:
        before = everything(store)
        parts = move_to_lake(store, other_lake, analysis_id_for(*NIGHT))
        assert len(parts) == 3 and store.con.execute("SELECT count(*) FROM attribution_rows").fetchone()[0] == 0
        assert everything(store) == before
    with Store(tmp_path / "zsaudit.duckdb", read_only=True) as again:
        assert everything(again) == before
    server.filesystem().rm_file(other_lake.path(parts[1]).partition("://")[2])
    with pytest.raises(BadInput, match="parts are missing") as refused:
        Store(tmp_path / "zsaudit.duckdb", read_only=True)
    assert f"{other_lake.root}/{parts[1]}" in str(refused.value)
