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


# Real Airflow 3 (session-scoped; only `airflow`-marked tests use them, see tests/airflow_harness.py):
# airflow_server, airflow_test_run (DAG zsaudit_test), airflow_nightly_run (DAG zsaudit_nightly).
from airflow_harness import airflow_loopback, airflow_nightly_run, airflow_server, airflow_test_run  # noqa: E402,F401
