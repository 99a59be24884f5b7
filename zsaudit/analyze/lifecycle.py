"""Findings across nights: each finding subject's lifecycle and status history (docs/findings.md
"Lifecycle"). The SQL is persisted in the store by queries/migrations/005_finding_lifecycle.sql
(views finding_lifecycle, finding_history; macros *_between(since, until)); this module reads it
for `zsaudit findings --history` and the period pack."""

from __future__ import annotations

import json
from datetime import date

from .. import queries
from ..errors import BadUsage
from .rules import KINDS


def lifecycle(con, since: date | None = None, until: date | None = None, *, kind: str | None = None) -> list[dict]:
    """One dict per finding subject over the nights [since, until), with its `history` as text and
    `changes`: a list of {status, from_night, to_night} (to_night exclusive, None while it lasts)."""
    if kind is not None and kind not in KINDS:
        raise BadUsage(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    params = {"since": since, "until": until}
    cur = con.execute(queries.load("lifecycle/list"), {**params, "kind": kind})
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    changes: dict[str, list[dict]] = {}
    for sid, status, frm, to in con.execute(queries.load("lifecycle/history"), params).fetchall():
        changes.setdefault(sid, []).append({"status": status, "from_night": frm, "to_night": to})
    for r in rows:
        r["changes"] = changes.get(r["subject_id"], [])
    return rows


def _plain(v):
    return v.isoformat() if isinstance(v, date) else v


def to_json(rows: list[dict]) -> str:
    out = [{k: ([{kk: _plain(vv) for kk, vv in h.items()} for h in v] if k == "changes" else _plain(v))
            for k, v in r.items()} for r in rows]
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = ("subject_id", "kind", "subtype", "severity", "controls", "status", "first_seen", "last_seen",
               "resolved_on", "days_to_resolve", "nights_open", "nights_accepted", "nights_not_evaluable",
               "reopened", "dag_id", "task_id", "worker", "login", "host", "conn_id", "exception_ticket",
               "exception_expires", "history", "subject")


def csv_rows(rows: list[dict]) -> list[list]:
    return [[r[c] for c in CSV_COLUMNS] for r in rows]


def to_table(rows: list[dict]) -> str:
    """A fixed-width text table (control characters shown escaped)."""
    cols = (("status", 8), ("kind", 19), ("subtype", 17), ("first_seen", 10), ("last_seen", 10),
            ("resolved_on", 11), ("days_to_resolve", 5), ("who", 44), ("history", 60))

    def who(r):
        parts = [r["dag_id"] and f"{r['dag_id']}.{r['task_id']}", r["worker"] if not r["dag_id"] else None,
                 r["login"], r["host"], r["conn_id"] and f"conn {r['conn_id']}"]
        if r["kind"] == "coverage_gap":
            parts.append(r["subject"].split("|")[2] if r["subject"] else None)
        return " ".join(p for p in parts if p)

    def cell(v, width):
        text = "" if v is None else str(_plain(v))
        text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
        return text if len(text) <= width else text[: width - 1] + "…"

    head = {"days_to_resolve": "days", "who": "subject"}
    lines = ["  ".join(head.get(c, c).ljust(w) for c, w in cols).rstrip()]
    for r in rows:
        vals = {**r, "who": who(r)}
        lines.append("  ".join(cell(vals[c], w).ljust(w) for c, w in cols).rstrip())
    lines.append(f"{len(rows)} finding subject(s); days = nights from first seen to resolved")
    return "\n".join(lines) + "\n"
