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
