"""findings.ocsf.json: the period's findings as OCSF Detection Finding events (class_uid 2004).

One JSON array, one event per line, written in batches (findings never sit in memory at once).
Attributes follow OCSF 1.1: category Findings (2), activity Create (1), type_uid 200401, severity_id
1-5, status New (1) for open findings and Suppressed (3) for findings under an accepted exception;
the Airflow identity of the finding and its SOC 2 criteria go in `unmapped`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from .. import __version__
from ..timeutil import iso_z
from .context import Runner

OCSF_VERSION = "1.1.0"
CLASS_UID = 2004
CATEGORY_UID = 2
ACTIVITY_CREATE = 1
SEVERITY_ID = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
TITLES = {
    "unmapped_identity": "Request under an identity not mapped to the DAG",
    "token_gap": "Request while the worker had no valid identity token",
    "silent_failure": "Task reported success but failed",
    "egress_bypass": "Task egress that bypassed Zscaler",
    "unattributed_egress": "Worker egress no task attempt explains",
}
BATCH = 10_000


def _ms(t: datetime | None) -> int | None:
    return int(t.timestamp() * 1000) if t is not None else None


def _iso(t) -> str | None:
    if t is None:
        return None
    if isinstance(t, datetime):
        return iso_z(t, "milliseconds")
    if isinstance(t, date):
        return t.isoformat()
    return str(t)


def event(row: dict, generated_at: datetime) -> dict:
    t = row["event_time"] or generated_at
    accepted = row["status"] == "accepted"
    finding_info = {
        "uid": row["finding_id"],
        "title": row["title"] or TITLES.get(row["kind"], row["kind"]),
        "desc": row["detail"],
        "types": [row["kind"]] + ([row["subtype"]] if row["subtype"] else []),
        "analytic": {"name": row["kind"], "uid": row["kind"], "type_id": 1, "type": "Rule"},
        "first_seen_time": _ms(row["gap_start"] or row["event_time"]),
        "last_seen_time": _ms(row["gap_end"] or row["event_time"]),
        "related_events": [{"uid": rid} for rid in (row["evidence_ids"] or [])],
    }
    ev = {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "time": _ms(t),
        "time_dt": _iso(t),
        "severity_id": SEVERITY_ID.get(row["severity"], 99),
        "severity": row["severity"].capitalize(),
        "status_id": 3 if accepted else 1,
        "status": "Suppressed" if accepted else "New",
        "message": row["detail"],
        "finding_info": finding_info,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "zsaudit", "vendor_name": "zsaudit", "version": __version__},
            "uid": row["finding_id"],
            "logged_time": _ms(generated_at),
        },
        "unmapped": {
            "soc2_controls": list(row["controls"] or []),
            "dag_id": row["dag_id"], "run_id": row["run_id"], "task_id": row["task_id"],
            "map_index": row["map_index"], "try_number": row["try_number"], "conn_id": row["conn_id"],
            "analysis_id": row["analysis_id"],
        },
    }
    if row["login"]:
        ev["actor"] = {"user": {"name": row["login"]}}
    if row["worker"]:
        ev["device"] = {"hostname": row["worker"], "type_id": 1, "type": "Server"}
    if row["host"]:
        ev["resources"] = [{"name": row["host"], "type": "Network Host"}]
    if row["exception_ticket"] or row["exception_approver"]:
        ev["unmapped"]["exception"] = {
            "approver": row["exception_approver"], "reason": row["exception_reason"],
            "ticket": row["exception_ticket"], "expires": _iso(row["exception_expires"]),
            "note": row["exception_note"],
        }
    return ev


def write(run: Runner, path: Path, generated_at: datetime) -> int:
    text, params = run.bind("report/ocsf_findings")
    cur = run.con.execute(text, params)
    cols = [d[0] for d in cur.description]
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("[")
        while batch := cur.fetchmany(BATCH):
            for values in batch:
                fh.write(",\n" if n else "\n")
                fh.write(json.dumps(event(dict(zip(cols, values)), generated_at), sort_keys=True, ensure_ascii=False))
                n += 1
        fh.write("\n]\n")
    return n
