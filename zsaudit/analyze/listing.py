"""Findings out of the store: `zsaudit findings` as a table, JSON or CSV.

JSON and CSV are queries/report/evidence_findings.sql, the same columns and formats as the pack's
evidence/findings.csv; CSV cells are neutralized against spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

from .. import queries
from ..errors import BadUsage
from ..timeutil import iso_z
from .rules import KINDS, SEVERITY_ORDER

def list_findings(store, *, kind: str | None = None, status: str | None = None) -> list[dict]:
    """Findings as dicts (queries/listing/findings.sql), most severe first, then by time and id."""
    _check_kind(kind)
    return queries.rows(store.con, "listing/findings",
                        {"kind": kind, "status": status, "severity_order": list(SEVERITY_ORDER)})


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise BadUsage(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")


def _plain(value):
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# -- export (CSV / JSON): one definition with evidence/findings.csv ---------------------------
EXPORT_QUERY = "report/evidence_findings"
PERIOD_MACROS = "report/in_period"            # findings_in_period(), which EXPORT_QUERY reads
_LIST_FIELDS = ("controls", "evidence_ids", "attempts_hit")   # space-joined in CSV, lists in JSON


def export_findings(store, *, kind: str | None = None, status: str | None = None) -> tuple[list[str], list[dict]]:
    """(columns, rows) of queries/report/evidence_findings.sql over every finding: the columns and
    formats of the pack's evidence/findings.csv, most severe first, then by time and id."""
    _check_kind(kind)
    queries.run(store.con, PERIOD_MACROS)
    cur = queries.cursor(store.con, EXPORT_QUERY, {"since": None, "until": None, "kind": kind, "status": status})
    columns = [d[0] for d in cur.description]
    rows = [dict(zip(columns, r)) for r in cur.fetchall()]
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    rows.sort(key=lambda r: (rank.get(r["severity"], 9), r["event_time"] or "", r["finding_id"]))
    return columns, rows


def to_json(export: tuple[list[str], list[dict]]) -> str:
    _, rows = export
    out = [{k: (v.split(" ") if v else []) if k in _LIST_FIELDS else _plain(v) for k, v in r.items()} for r in rows]
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet will not execute: text starting with = + - @ (or tab/CR) gets a
    leading apostrophe (OWASP CSV injection guidance); numbers stay numbers (-1 stays -1). Lists
    are joined with a space, as in evidence/findings.csv."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple)):
        value = " ".join(str(_plain(v)) for v in value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(export: tuple[list[str], list[dict]]) -> str:
    columns, rows = export
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([csv_cell(r[c]) for c in columns])
    return buf.getvalue()


def to_table(rows: list[dict]) -> str:
    """A fixed-width text table of the key columns (control characters shown escaped)."""
    cols = ("finding_id", "severity", "status", "kind", "event_time", "dag_id", "task_id", "login", "host", "detail")
    def cell(v, width):
        text = "" if v is None else str(_plain(v))
        text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
        return text if len(text) <= width else text[: width - 1] + "…"
    widths = {"finding_id": 16, "severity": 8, "status": 8, "kind": 19, "event_time": 20, "dag_id": 20,
              "task_id": 18, "login": 26, "host": 26, "detail": 60}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols).rstrip()]
    for r in rows:
        lines.append("  ".join(cell(r[c], widths[c]).ljust(widths[c]) for c in cols).rstrip())
    lines.append(f"{len(rows)} finding(s)")
    return "\n".join(lines) + "\n"
