"""Shared fixtures: paths to fixtures/ and ../shared/samples, and a fresh store per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from zsaudit.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "test.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_pack(tmp_path_factory) -> Path:
    """The demo's pack (`zsaudit demo`, end to end through the CLI): its directory."""
    from click.testing import CliRunner

    from zsaudit.cli import main

    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    (pack,) = (out / "packs").iterdir()
    return pack


@pytest.fixture(scope="session")
def hostile_pack(tmp_path_factory) -> Path:
    """The pack of tests/report_data.py's small store, whose logs carry markup and formulas."""
    import report_data
    from zsaudit.report import render

    base = tmp_path_factory.mktemp("hostile")
    with Store(base / "zsaudit.duckdb") as s:
        report_data.build(s, base)
        render(s, base / "pack", generated_at=report_data.GENERATED_AT)
    return base / "pack"


# Real Airflow 3 (session-scoped; only `airflow`-marked tests use them, see tests/airflow_harness.py):
# airflow_server, airflow_test_run (DAG zsaudit_test), airflow_scheduled_run and airflow_nightly_run (DAG
# zsaudit_nightly: the run the scheduler created, a manual run with an explicit interval).
from airflow_harness import (  # noqa: E402,F401
    airflow_loopback, airflow_nightly_run, airflow_scheduled_run, airflow_server, airflow_test_run,
)
