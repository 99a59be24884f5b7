"""Every golden case (fixtures/golden, see tests/golden.py): a real feed in, the rows it must give."""

from __future__ import annotations

import pytest

import golden
from zsaudit.ingest import zscaler_batch

# a run over no lines, by what its schema depends on (the SQL, its parameters, the split's columns)
_EMPTY_RUNS: dict = {}


@pytest.mark.parametrize("case", golden.cases())
def test_golden(case, tmp_path, monkeypatch):
    """Also: the file's staged schema, taken from its first batch's run where the input had the
    empty split's columns (zscaler_batch._learn_schema: one compile of the batch SQL fewer for a
    small file), equals the schema of a run over no lines (checked here, on every golden input's
    own ingest, rather than by a second ingest of them all)."""
    learned = []
    real = zscaler_batch.BatchStatement._learn_schema

    def learn(self, split_schema, staged_schema):
        real(self, split_schema, staged_schema)
        if self._schema is not None:
            empty = self._empty_split()
            key = self._schema_key(empty.schema)
            if key not in _EMPTY_RUNS:
                _EMPTY_RUNS[key] = self.run(empty).schema
            learned.append((self.plan.fmt, self._schema, _EMPTY_RUNS[key]))

    monkeypatch.setattr(zscaler_batch.BatchStatement, "_learn_schema", learn)
    want, got = golden.run(case, tmp_path)
    assert got == want
    if "error" not in want:
        assert learned, f"{case}: no first batch's schema was kept"
    assert all(kept.equals(empty, check_metadata=True) for _, kept, empty in learned)
