"""Shared fixtures: paths to fixtures/ and ../shared/samples, and a fresh store per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from fresh_store import new_store
from zsaudit.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def store(tmp_path) -> Store:
    """A new, empty store (tests/fresh_store.py; after the process' first, a copy: zsaudit/store.py)."""
    s = new_store(tmp_path / "test.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[Path, str]:
    """`zsaudit demo --out DIR` with the defaults `make demo` uses, end to end through the CLI, run
    once per session (a 2,000-request night and its PDF): its directory and what it printed. Read
    only: copy it into tmp_path to change anything."""
    from click.testing import CliRunner

    from zsaudit.cli import main

    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.stdout


@pytest.fixture(scope="session")
def demo_pack(demo_run) -> Path:
    """The demo's pack (demo_run's): its directory."""
    (pack,) = (demo_run[0] / "packs").iterdir()
    return pack


@pytest.fixture(scope="session")
def hostile_pack(tmp_path_factory) -> Path:
    """The pack of tests/report_data.py's small store, whose logs carry markup and formulas, without
    its PDF (its reader, test_pack_browser, opens index.html; test_report reads that store's PDF)."""
    import report_data
    from zsaudit.report import render

    base = tmp_path_factory.mktemp("hostile")
    with Store(base / "zsaudit.duckdb") as s:
        report_data.build(s, base)
        render(s, base / "pack", generated_at=report_data.GENERATED_AT, pdf=False)
    return base / "pack"


# -- scheduling under `make test` (pytest-xdist --dist loadfile) ---------------------------------
# A file is a unit of work, so a module fixture is built once. Two changes to xdist's loadfile:
# files that share a session fixture costing tens of seconds run as one unit (on one worker, so
# the fixture is built once, not once per worker), and the units start dearest first, every file
# ranked (xdist otherwise starts the files with the most tests first: a heavy file with few tests
# left for last keeps one worker busy while the other idles, and so does a 10-second file among
# the last). UNIT_SECONDS: each unit's CPU-s plus the time its tests wait beyond that (servers,
# locks, sleeps), counted by tools/pytest_cpu.py in a whole `make test` (2026-12-02, session 11,
# load 3-5: docs/benchmarks.md, "Test suite time"); a file not listed goes last.
SHARED_UNITS = {
    "demo_run": ("test_demo.py", "test_pack_pdf.py", "test_pack_browser.py", "test_report_e2e.py"),
}
UNIT_SECONDS = {
    "test_object_storage.py": 79,     # S3, GCS and Azure emulators, console-script processes
    "test_nss_roundtrip.py": 75,      # property tests, each a few dozen tiny ingests
    "test_run.py": 75,                # a dozen `zsaudit run`s, two PDFs
    "test_period.py": 60,             # 90 nights ingested and analysed (one fixture)
    "test_ingest_parallel.py": 48,
    "test_ingest_zscaler.py": 43,
    "demo_run": 37,                   # the demo (a 2,000-request night and its PDF), Chromium, pdftotext, e2e
    "test_reperformance.py": 27,      # three runs through the CLI, three PDFs
    "test_golden.py": 22,
    "test_chain.py": 19,
    "test_output.py": 17,
    "test_truthful_evidence.py": 16,
    "test_receive.py": 14,
    "test_ingest_fuzz.py": 13,
    "test_log_template.py": 13,
    "test_ingest_once.py": 13,
    "test_ingest_airflow_samples.py": 13,
    "test_report.py": 12,
    "test_ingest_airflow_edge.py": 11,
    "test_lake_load.py": 10,
    "test_findings.py": 10,
    "test_lake_attributions.py": 10,
    "test_lake_remote.py": 7,
    "test_ingest_airflow_bounds.py": 6.5,
    "test_ingest_faults.py": 6,
    "test_synth.py": 5,
    "test_airflow_api_client.py": 5,
    "test_correlate.py": 5,
    "test_ingest_zscaler_samples.py": 4,
    "test_findings_cli.py": 3.3,
    "test_correlate_property.py": 3.3,
    "test_queries.py": 3,
    "test_ingest_airflow_postgres.py": 2.6,
    "test_exit_codes.py": 2.3,
    "test_store.py": 1.7,
    "test_orphans.py": 1.6,
    "test_imports.py": 1.5,
    "test_verify.py": 1.3,
    "test_ingest_json_layout.py": 1.3,
    "test_init.py": 0.3,
    "test_time_formats.py": 0.3,
    "test_identity_map.py": 0.2,
}


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    name = path.rsplit("/", 1)[-1]
    return next((unit for unit, files in SHARED_UNITS.items() if name in files), path)


def _rank(unit: str) -> float:
    return -UNIT_SECONDS.get(unit.rsplit("/", 1)[-1], 0)


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):   # an xdist worker: its collection order is the scheduler's
        items.sort(key=lambda item: _rank(_unit(item.nodeid)))   # stable: a file's tests stay in order


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class CostFirstFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    config.option.loadscopereorder = False   # keep the collection's (cost-first) order of units
    return CostFirstFileScheduling(config, log)


# Real Airflow 3 (session-scoped; only `airflow`-marked tests use them, see tests/airflow_harness.py):
# airflow_server, airflow_test_run (DAG zsaudit_test), airflow_scheduled_run and airflow_nightly_run (DAG
# zsaudit_nightly: the run the scheduler created, a manual run with an explicit interval).
from airflow_harness import (  # noqa: E402,F401
    airflow_loopback, airflow_nightly_run, airflow_scheduled_run, airflow_server, airflow_test_run,
)
