"""Golden Zscaler cases: fixtures/golden/<case>.<ext> is a feed as a real source writes it and
fixtures/golden/<case>.expected.json what `zsaudit ingest zscaler` makes of it.

The expected file holds
  "options":  CLI options for the ingest, e.g. ["--format", "kv"] (optional)
  "ingest":   ledger fields of the file to check (source_kind, format, rows_loaded, ...)
  "table":    the table the rows land in, and "rows": one object per loaded row, in line order,
              with the columns to check (times as ISO 8601 in UTC)
  "tables":   for a file whose rows land in several tables: {table: rows, ...}, rows as above
  "rejects":  [[line, reason substring], ...] (optional; default none)
  "error":    for a file that must be refused: a substring of the message (exit code 2)
Only the columns named are compared, so a case says what it is about and nothing else.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from click.testing import CliRunner

from zsaudit.cli import main

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"


def cases() -> list[str]:
    return sorted(p.name[: -len(".expected.json")] for p in GOLDEN.glob("*.expected.json"))


def _input(case: str) -> Path:
    (found,) = [p for p in GOLDEN.glob(case + ".*") if not p.name.endswith(".expected.json")]
    return found


def _plain(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


def _rows(con, table: str, want: list[dict]) -> list[dict]:
    """The rows of `table`, in line order, with the columns `want` names."""
    cols = sorted({c for r in want for c in r} | {"source_line"})
    cur = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY source_line")
    return [{c: _plain(v) for c, v in zip(cols, r) if c in w} for r, w in zip(cur.fetchall(), want + [{}] * 10**6)]


def run(case: str, tmp_path: Path) -> tuple[dict, dict]:
    """(expected, got) for one case; got has the same keys as expected."""
    want = json.loads((GOLDEN / f"{case}.expected.json").read_text(encoding="utf-8"))
    db = tmp_path / f"{case}.duckdb"
    res = CliRunner().invoke(main, ["ingest", "zscaler", "--db", str(db), "-q",
                                    *want.get("options", []), str(_input(case))])
    got: dict = {}
    if "error" in want:
        got["error"] = want["error"] if want["error"] in res.output else res.output
        got["exit_code"] = res.exit_code
        want = {**want, "exit_code": 2}
    elif res.exit_code != 0:
        raise AssertionError(f"{case}: exit {res.exit_code}: {res.output}")
    con = duckdb.connect(str(db), read_only=True)
    try:
        if "ingest" in want:
            cols = list(want["ingest"])
            row = con.execute(f"SELECT {', '.join(cols)} FROM ingest_ledger").fetchall()
            got["ingest"] = dict(zip(cols, map(_plain, row[0]))) if row else None
        if "rows" in want:
            got["rows"] = _rows(con, want["table"], want["rows"])
            got["table"] = want["table"]
        if "tables" in want:
            got["tables"] = {table: _rows(con, table, rows) for table, rows in want["tables"].items()}
        reasons = con.execute("SELECT source_line, reason FROM rejects ORDER BY source_line").fetchall()
        want_rejects = want.get("rejects", [])
        got["rejects"] = [[line, w[1] if w[1] in reason else reason]
                          for (line, reason), w in zip(reasons, want_rejects + [[None, "\0"]] * len(reasons))]
        want = {**want, "rejects": want_rejects}
    finally:
        con.close()
    for k in ("options", "source", "class"):
        want.pop(k, None)
    return want, got
