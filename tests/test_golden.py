"""Every golden case (fixtures/golden, see tests/golden.py): a real feed in, the rows it must give."""

from __future__ import annotations

import pytest

import golden


@pytest.mark.parametrize("case", golden.cases())
def test_golden(case, tmp_path):
    want, got = golden.run(case, tmp_path)
    assert got == want
