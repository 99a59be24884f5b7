"""docs/cli.md is what `zsaudit ... --help` prints today (regenerate: python tools/cli_docs.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "tools" / "cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current():
    tool = _tool()
    expected = tool.render()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == expected, \
        "docs/cli.md is out of date: run `python tools/cli_docs.py`"
    for title in ("## zsaudit ingest zscaler", "## zsaudit analyze", "## zsaudit findings", "## zsaudit run"):
        assert title in expected
