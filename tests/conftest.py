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
    """A new, empty store (tests/fresh_store.py: a copy of one migrated once a process)."""
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
# the fixture is built once, not once per worker), and the units that cost most start first (xdist
# otherwise starts the files with the most tests first, and a heavy file with few tests left for
# last keeps one worker busy while the other idles). Costs measured on 2026-12-02 (docs/benchmarks.md,
# "Test suite time"); the files not listed (each under ~50 s) follow in collection order.
SHARED_UNITS = {
    "demo_run": ("test_demo.py", "test_pack_pdf.py", "test_pack_browser.py"),
}
HEAVY_FIRST = (   # by the seconds each took in a whole `make test` (load 4-20, 2 workers), most first
    "test_nss_roundtrip.py",     # 1131 s: 39 property tests, each a dozen ingests (half since session 10)
    "test_object_storage.py",    # 671 s: S3, GCS and Azure emulators
    "test_run.py",               # 611 s
    "demo_run",                  # ~470 s: the demo (a 2,000-request night and its PDF), Chromium
    "test_ingest_zscaler.py",    # 480 s
    "test_period.py",            # 331 s: 90 nights ingested and analysed (one fixture)
    "test_ingest_parallel.py",   # 300 s
    "test_reperformance.py",     # 277 s: three runs through the CLI, three PDFs
    "test_log_template.py",      # 253 s
    "test_receive.py",
    "test_report_e2e.py",
    "test_chain.py",
    "test_ingest_airflow_edge.py",
    "test_ingest_fuzz.py",
    "test_output.py",
    "test_golden.py",
    "test_findings.py",
    "test_truthful_evidence.py",
    "test_correlate_property.py",
    "test_synth.py",
    "test_report.py",
)


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    name = path.rsplit("/", 1)[-1]
    return next((unit for unit, files in SHARED_UNITS.items() if name in files), path)


def _rank(unit: str) -> int:
    name = unit.rsplit("/", 1)[-1]
    return HEAVY_FIRST.index(name) if name in HEAVY_FIRST else len(HEAVY_FIRST)


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
