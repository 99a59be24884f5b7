"""Each record once across the Spark engine's ingest units (Lake.load_into), without a cluster:
each Zscaler file is ingested into the lake as a Spark task does (zsaudit.spark.ingest._zscaler_unit),
in an order other than the input's, then the lake loads into a store; rows and ledger equal the
single-machine ingest of the same files. tests/test_spark.py runs the real thing."""

from __future__ import annotations

import shutil

import pytest

from s3server import running_with_bucket
from zsaudit.ingest import zscaler
from zsaudit.lake import Lake, zscaler_unit
from zsaudit.pipeline import list_files
from zsaudit.spark.ingest import _zscaler_unit
from zsaudit.store import Store
from zsaudit.synth import synthesize

LEDGER = ("SELECT path, sha256, lines_read, rows_loaded, rows_rejected, rows_duplicate, first_event, last_event "
          "FROM ingest_ledger ORDER BY path")
WEB = "SELECT rid, event_time, record_key, source_file, source_line FROM zia_web ORDER BY rid"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[str]:
    """A night's Zscaler files, two of them resent: web part 1 byte for byte under a later name,
    part 2's records in reverse order under a name that comes first."""
    out = tmp_path_factory.mktemp("night")
    synthesize(out, requests=200, seed=5)
    folder = out / "zscaler"
    lines = (folder / "zia_web.json").read_text().splitlines(keepends=True)
    (folder / "zia_web.json").unlink()
    for i in range(3):
        (folder / f"zia_web-{i}.json").write_text("".join(lines[i::3]))
    shutil.copyfile(folder / "zia_web-1.json", folder / "zia_web-1.resent.json")
    (folder / "zia_web-2-resent.json").write_text("".join(reversed(lines[2::3])))
    return [f for f, _ in list_files([str(folder)])]


def rows(store) -> tuple:
    return store.con.execute(LEDGER).fetchall(), store.con.execute(WEB).fetchall()


@pytest.fixture(scope="module")
def s3():
    with running_with_bucket("zsaudit-lake") as server:
        yield server


@pytest.fixture(params=["folder", "s3"])
def lake_location(request, tmp_path, monkeypatch) -> str:
    """The lake in a folder, or below a prefix of a real S3-compatible server (engine.lake =
    "s3://..."; the endpoint and keys in the environment, the standard AWS way)."""
    if request.param == "folder":
        return str(tmp_path / "lake")
    for key, value in request.getfixturevalue("s3").env().items():
        monkeypatch.setenv(key, value)
    return f"s3://zsaudit-lake/{tmp_path.name}"


def test_the_lake_loads_each_record_once_in_input_order(tmp_path, files, lake_location):
    with Store(tmp_path / "single.duckdb") as single:
        zscaler.ingest_paths(single, files)
        expected = rows(single)
    assert any(r[5] for r in expected[0]), "a file with duplicates"
    lake = Lake.at(lake_location)
    results = [r for f in reversed(files) for r in _zscaler_unit(str(lake.root), f, "auto", None, "UTC")[0]]
    order = [zscaler_unit(r.sha256, r.path) for r in sorted(results, key=lambda r: files.index(r.path))]
    with Store(tmp_path / "spark.duckdb") as store:
        loaded = lake.load_into(store, order=order)
        assert rows(store) == expected
        resent = next(r for r in results if r.path.endswith("zia_web-1.resent.json"))
        assert loaded.copies == [zscaler_unit(resent.sha256, resent.path)]
        assert lake.load_into(store, order=order).units == 0 and rows(store) == expected    # once
        skipped = store.con.execute("SELECT count(*) FROM lake_duplicates WHERE rid IS NULL").fetchone()[0]
        dropped = store.con.execute("SELECT count(*) FROM lake_duplicates WHERE rid IS NOT NULL").fetchone()[0]
    assert skipped == 1 and dropped == sum(r[5] for r in expected[0])
