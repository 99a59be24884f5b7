"""A small, realistic analysed store for the report tests, inserted straight into the tables.

One UTC day (2026-11-24) of ZIA web and ZPA logs from two Airflow workers plus one laptop, six task
attempts, an analysis run with attributions and findings, and everything the pack must call out:
hostile strings (a URL and user agent carrying <script>, a login starting with `=cmd|`), open and
accepted findings, an exception that expired, checks not evaluable, a recordid gap, a rejected line,
hours without logs and feed-template drift.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from zsaudit import identity_map, synth

UTC = timezone.utc
DAY = datetime(2026, 11, 24, tzinfo=UTC)
SINCE = DAY
UNTIL = DAY + timedelta(days=1)
GENERATED_AT = datetime(2026, 11, 25, 6, 0, 0, tzinfo=UTC)

HOSTILE_URL = "https://evil.example/<script>alert(1)</script>?q=1"
HOSTILE_UA = "Mozilla/5.0 <script>alert(1)</script>"
HOSTILE_LOGIN = "=cmd|' /C calc'!A0"

# the synthetic fleet's first account and two workers, its legacy exception and one of its own; a
# comment with markup the pack must show as text
IDENTITY_TOML = identity_map.dumps(
    policy=synth.POLICY, service_accounts=synth.SERVICE_ACCOUNTS[:1], workers=synth.worker_tables()[:2],
    exceptions=[synth.EXCEPTIONS[0], {
        "kind": "egress_bypass", "match": {"dag": "etl_hourly"}, "approver": "bob.roe@corp.example",
        "reason": "Vendor SFTP during cut-over", "ticket": "SEC-0999", "expires": "2026-10-31"}],
).replace("[[exception]]", "# <b>not markup</b>\n[[exception]]", 1)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def insert(con, table: str, columns: list[str], rows: list[list]) -> None:
    """Insert rows naming their columns, so the builder survives columns added to the schema."""
    if rows:
        con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)


def store_attributions(con, rows: list[list]) -> None:
    """Attribution rows in the contract's columns (ATTR_COLS) into the narrow tables behind the
    `attributions` view (schema 7): the workers and attempts as this analysis' references, the
    method as its code (status follows from candidates, confidence from method and candidates)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _attr_in AS SELECT * FROM attributions LIMIT 0")
    insert(con, "_attr_in", ATTR_COLS, rows)
    con.execute("""
        INSERT INTO attribution_workers
        SELECT analysis_id, row_number() OVER (PARTITION BY analysis_id ORDER BY worker), worker
        FROM (SELECT DISTINCT analysis_id, worker FROM _attr_in WHERE worker IS NOT NULL)""")
    con.execute("""
        INSERT INTO attribution_attempts
        SELECT analysis_id, row_number() OVER (PARTITION BY analysis_id ORDER BY attempt_id), attempt_id, dag_id,
               run_id, task_id, map_index, try_number
        FROM (SELECT DISTINCT analysis_id, attempt_id, dag_id, run_id, task_id, map_index, try_number
              FROM _attr_in WHERE attempt_id IS NOT NULL)""")
    con.execute("""
        INSERT INTO attribution_rows
        SELECT t.analysis_id, CASE WHEN t.request_table = 'zpa_user_activity' THEN 1 ELSE 0 END, t.request_rid,
               t.event_time, w.worker_ref, t.login, t.host, a.attempt_ref,
               CASE split_part(t.method, '+', 1) WHEN 'device' THEN 0 WHEN 'ip' THEN 4 WHEN 'login' THEN 8 END
                   + CASE WHEN t.method LIKE '%+login%' THEN 1 ELSE 0 END
                   + CASE WHEN t.method LIKE '%+host%' THEN 2 ELSE 0 END,
               t.candidates, t.candidate_attempts
        FROM _attr_in t
        LEFT JOIN attribution_workers w ON w.analysis_id = t.analysis_id AND w.worker = t.worker
        LEFT JOIN attribution_attempts a ON a.analysis_id = t.analysis_id AND a.attempt_id = t.attempt_id""")
    con.execute("DROP TABLE _attr_in")


WEB_COLS = ["rid", "event_time", "login", "department", "location", "client_ip", "client_public_ip", "server_ip",
            "device_hostname", "device_owner", "request_method", "url", "host", "protocol", "response_code", "action",
            "reason", "url_category", "url_super_category", "url_class", "app_name", "app_class", "user_agent",
            "referer", "request_size", "response_size", "total_size", "risk_score", "threat_name", "malware_category",
            "rule_type", "rule_label", "content_type", "forward_method", "record_id", "extra", "file_id",
            "source_file", "source_line"]
ZPA_COLS = ["rid", "event_time", "username", "customer", "session_id", "connection_id", "connection_status",
            "internal_reason", "client_public_ip", "client_private_ip", "host", "application", "app_group", "policy",
            "server_ip", "server_port", "connector", "ip_protocol", "connection_start", "connection_end", "idp",
            "hostname", "extra", "file_id", "source_file", "source_line"]
ATTR_COLS = ["request_table", "request_rid", "event_time", "worker", "login", "host", "attempt_id", "dag_id", "run_id",
             "task_id", "map_index", "try_number", "status", "method", "confidence", "candidates", "analysis_id"]
FINDING_COLS = ["finding_id", "kind", "severity", "controls", "status", "event_time", "attempt_id", "dag_id", "run_id",
                "task_id", "map_index", "try_number", "login", "host", "detail", "evidence_ids", "gap_start",
                "gap_end", "exception_approver", "exception_reason", "exception_ticket", "exception_expires",
                "exception_note", "analysis_id", "title", "evidence_count"]


def attempt_id(dag, run, task, map_index, try_number) -> str:
    return sha(f"{dag}|{run}|{task}|{map_index}|{try_number}")[:16]


@dataclass
class Expected:
    """What the tests compare the pack against (counts straight from the builder)."""

    zia_web: int
    zpa_activity: int
    attempts: int
    findings_open: int
    findings_accepted: int
    attributed: int
    ambiguous: int
    unattributed: int
    not_worker: int
    rejected: int
    recordid_missing: int
    identity_map: Path


def build(store, tmp_path: Path) -> Expected:
    con = store.con
    web_file = "/var/log/zscaler/zia-web-2026-11-24.json"
    web_sha = sha("web file")
    web2_file = "/var/log/zscaler/zia-web-2026-11-24-late.csv"
    web2_sha = sha("web file 2")
    zpa_file = "/var/log/zscaler/zpa-activity-2026-11-24.json"
    zpa_sha = sha("zpa file")
    st_file = "/var/log/zscaler/zpa-status-2026-11-24.json"
    st_sha = sha("status file")
    af_file = "/opt/airflow/logs/dag_id=billing_daily/run_id=scheduled__2026-11-24T00:00:00+00:00/task_id=push/attempt=1.log"
    af_sha = sha("airflow log")

    # ---- task attempts ----------------------------------------------------------------------
    attempts = [
        # dag, run, task, map, try, host, start_h, start_m, minutes, state, rc
        ("billing_daily", "scheduled__2026-11-24T00:00:00+00:00", "push", -1, 1, "airflow-worker-1", 1, 0, 20, "success", 0),
        ("billing_daily", "scheduled__2026-11-24T00:00:00+00:00", "fetch", -1, 1, "airflow-worker-2", 2, 0, 15, "failed", 1),
        ("billing_daily", "scheduled__2026-11-24T00:00:00+00:00", "fetch", -1, 2, "airflow-worker-2", 2, 30, 15, "success", 0),
        ("legacy_export", "scheduled__2026-11-24T00:00:00+00:00", "export", -1, 1, "airflow-worker-1", 10, 0, 30, "success", 0),
        ("etl_hourly", "scheduled__2026-11-24T12:00:00+00:00", "load", 3, 1, "airflow-worker-2", 12, 0, 20, "success", 0),
        ("etl_hourly", "scheduled__2026-11-24T13:00:00+00:00", "load", 3, 1, "airflow-worker-1", 13, 0, 20, "success", None),
    ]
    att_rows = []
    for dag, run, task, mi, tn, host, h, m, mins, state, rc in attempts:
        start = DAY + timedelta(hours=h, minutes=m)
        att_rows.append([attempt_id(dag, run, task, mi, tn), dag, run, task, mi, tn, host, start,
                         start + timedelta(minutes=mins), state, rc, "PythonOperator", 2, "3", af_file, af_sha,
                         "log", "log", "log"])
    con.executemany(
        "INSERT INTO task_attempts (attempt_id, dag_id, run_id, task_id, map_index, try_number, hostname, start_time, "
        "end_time, state, return_code, operator, max_tries, airflow_version, log_file, log_sha256, host_source, "
        "times_source, state_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        att_rows,
    )
    a_push, a_fetch1, a_fetch2, a_export, a_load12, a_load13 = [r[0] for r in att_rows]
    con.executemany(
        "INSERT INTO task_egress_hints (attempt_id, dag_id, run_id, task_id, map_index, try_number, event_time, url, host, port, log_file, source_line, message) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [a_push, "billing_daily", att_rows[0][2], "push", -1, 1, DAY + timedelta(hours=1, minutes=5),
             "https://api.billing.example/v1/invoices", "api.billing.example", 443, af_file, 12, "POST https://api.billing.example/v1/invoices"],
            [a_load12, "etl_hourly", att_rows[4][2], "load", 3, 1, DAY + timedelta(hours=12, minutes=5),
             "sftp://files.vendor.example/in", "files.vendor.example", 22, af_file, 40, "Connecting to sftp://files.vendor.example/in"],
        ],
    )

    # ---- ZIA web: hours 0-5 and 9-23 (06:00-09:00 is a coverage gap); recordid jump 1010 -> 1016
    web_rows, attributions = [], []
    hours = [h for h in range(24) if h not in (6, 7, 8)]
    record_id = 1000
    line = 0
    plan = []  # (hour, minute, login, host, url, action, ua, device, attempt, status)
    for i, h in enumerate(hours):
        plan.append((h, 10, "svc-billing@corp.example", "api.billing.example", "https://api.billing.example/v1/invoices",
                     "Allowed", "python-requests/2.32", "airflow-worker-1.corp.example", a_push if h == 1 else None,
                     "attributed" if h == 1 else ("unattributed" if h in (3, 20) else "attributed")))
        if h in (2, 10, 12, 13):
            plan.append((h, 20, "svc-billing@corp.example", "bucket.s3.amazonaws.com", "https://bucket.s3.amazonaws.com/x.csv",
                         "Allowed", "boto3/1.35", "airflow-worker-2.corp.example", None, "attributed"))
    plan.append((10, 5, "svc-legacy@corp.example", "legacy.partner.example", "https://legacy.partner.example/upload",
                 "Allowed", "curl/8.5", "airflow-worker-1.corp.example", a_export, "attributed"))
    plan.append((13, 7, HOSTILE_LOGIN, "evil.example", HOSTILE_URL, "Blocked", HOSTILE_UA,
                 "airflow-worker-1.corp.example", a_load13, "attributed"))
    plan.append((14, 0, "alice@corp.example", "news.example", "http://news.example/", "Allowed", "Firefox/140",
                 "laptop-17.corp.example", None, "not_worker"))
    plan.append((15, 0, "svc-billing@corp.example", "api.billing.example", "https://api.billing.example/v1/a",
                 "Allowed", "python-requests/2.32", "airflow-worker-2.corp.example", None, "ambiguous"))
    plan.sort(key=lambda p: (p[0], p[1]))
    attempt_by_hour = {1: a_push, 2: a_fetch2, 10: a_export, 12: a_load12, 13: a_load13}
    for hour, minute, login, host, url, action, ua, device, att, status in plan:
        line += 1
        record_id += 1
        if record_id == 1011:
            record_id = 1016  # five records the feed numbered never arrived
        rid = f"{web_sha[:16]}:{line}"
        t = DAY + timedelta(hours=hour, minutes=minute)
        proto = "HTTPS" if url.startswith("https") else "HTTP"
        web_rows.append([rid, t, login, "Data Platform", "DC-Frankfurt", "10.20.0.11", "198.51.100.7", "203.0.113.9",
                         device, "svc", "POST" if "billing" in host else "GET", url, host, proto,
                         403 if action == "Blocked" else 200, action, "Allowed" if action == "Allowed" else "Blocked by policy",
                         "Corporate Marketing", "Business", "Business Use", None, None, ua, None, 900, 3100, 4000,
                         0, None, None, "URL Filtering", "Default", "application/json", "DIRECT", record_id,
                         None, web_sha, web_file, line])
        if status == "not_worker":
            att_id, worker = None, None
        else:
            att_id = att if att else (attempt_by_hour.get(hour) if status == "attributed" else None)
            worker = device.split(".")[0]
        if status == "attributed" and att_id is None:
            status = "unattributed"
        arow = next((r for r in att_rows if r[0] == att_id), None)
        attributions.append(["zia_web", rid, t, worker, login, host, att_id,
                             arow[1] if arow else None, arow[2] if arow else None, arow[3] if arow else None,
                             arow[4] if arow else None, arow[5] if arow else None, status,
                             "device", 0.95 if arow else 0.0,
                             1 if arow else (2 if status == "ambiguous" else 0)])
    # one late row from a second file with a drifted template
    line2 = 1
    rid2 = f"{web2_sha[:16]}:{line2}"
    web_rows.append([rid2, DAY + timedelta(hours=23, minutes=55), "svc-billing@corp.example", "Data Platform", "DC-Frankfurt",
                     "10.20.0.12", "198.51.100.7", "203.0.113.9", "airflow-worker-2.corp.example", "svc", "GET",
                     "https://api.billing.example/v1/status", "api.billing.example", "HTTPS", 200, "Allowed", "Allowed",
                     "Corporate Marketing", "Business", "Business Use", None, None, "python-requests/2.32", None, 100, 200, 300,
                     0, None, None, "URL Filtering", "Default", "application/json", "DIRECT", None, None,
                     web2_sha, web2_file, line2])
    attributions.append(["zia_web", rid2, DAY + timedelta(hours=23, minutes=55), "airflow-worker-2", "svc-billing@corp.example",
                         "api.billing.example", None, None, None, None, None, None, "unattributed", "device", 0.0, 0])
    insert(con, "zia_web", WEB_COLS, web_rows)

    # ---- ZPA user activity and status ---------------------------------------------------------
    zpa_rows = []
    for i, (h, status, host) in enumerate([(1, "open", "db.internal.example"), (12, "close", "db.internal.example"),
                                           (16, "open", "git.internal.example")], start=1):
        t = DAY + timedelta(hours=h, minutes=30)
        rid = f"{zpa_sha[:16]}:{i}"
        zpa_rows.append([rid, t, "svc-billing@corp.example", "corp", f"S{i}", f"C{i}", status, None, "198.51.100.7",
                         "10.20.0.11", host, "Internal DB", "Data", "Allow internal", "10.9.0.5", 5432, "connector-1", 6,
                         t, t + timedelta(seconds=30), "okta", "airflow-worker-1", None, zpa_sha, zpa_file, i])
        attributions.append(["zpa_user_activity", rid, t, "airflow-worker-1", "svc-billing@corp.example", host,
                             a_push if h == 1 else None, "billing_daily" if h == 1 else None,
                             att_rows[0][2] if h == 1 else None, "push" if h == 1 else None,
                             -1 if h == 1 else None, 1 if h == 1 else None,
                             "attributed" if h == 1 else "unattributed", "device",
                             0.855 if h == 1 else 0.0, 1 if h == 1 else 0])
    insert(con, "zpa_user_activity", ZPA_COLS, zpa_rows)
    con.executemany(
        "INSERT INTO zpa_user_status (rid, event_time, username, session_id, session_status, authenticated_at, "
        "client_public_ip, client_private_ip, hostname, file_id, source_file, source_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [[f"{st_sha[:16]}:{i}", DAY + timedelta(hours=h), "svc-billing@corp.example", f"S{i}", "ZPN_STATUS_AUTHENTICATED",
          DAY + timedelta(hours=h), "198.51.100.7", "10.20.0.11", "airflow-worker-1", st_sha, st_file, i]
         for i, h in enumerate([0, 11], start=1)],
    )
    # the analysis stores attributions for worker traffic only; the laptop's request has none
    store_attributions(con, [a + ["an-20261124"] for a in attributions if a[12] != "not_worker"])

    # ---- ledger and rejects --------------------------------------------------------------------
    web_times = [r[1] for r in web_rows if r[-3] == web_sha]
    n_web1 = len(web_times)
    ledger = [
        [web_sha, web_file, 10_000, web_sha, "zia_web", "json", n_web1 + 1, n_web1, 1, min(web_times), max(web_times), None],
        [web2_sha, web2_file, 300, web2_sha, "zia_web", "csv", 1, 1, 0, web_rows[-1][1], web_rows[-1][1],
         json.dumps({"missing": ["referer"], "unexpected": ["ztunnelversion"]}, sort_keys=True)],
        [zpa_sha, zpa_file, 900, zpa_sha, "zpa_user_activity", "json", 3, 3, 0, zpa_rows[0][1], zpa_rows[-1][1], None],
        [st_sha, st_file, 400, st_sha, "zpa_user_status", "json", 2, 2, 0, DAY, DAY + timedelta(hours=11), None],
        [af_sha, af_file, 5000, af_sha, "airflow_tasklog", "airflow3_json", 120, 120, 0, DAY + timedelta(hours=1),
         DAY + timedelta(hours=13, minutes=20), None],
    ]
    con.executemany(
        "INSERT INTO ingest_ledger (file_id, path, size, sha256, source_kind, format, lines_read, rows_loaded, "
        "rows_rejected, first_event, last_event, field_drift, started_at, finished_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row + [GENERATED_AT - timedelta(hours=5), GENERATED_AT - timedelta(hours=5)] for row in ledger],
    )
    con.execute(
        "INSERT INTO rejects (file_id, source_file, source_line, raw, reason) VALUES (?, ?, ?, ?, ?)",
        [web_sha, web_file, n_web1 + 1, '{"datetime": "yesterday-ish", "login": "=HYPERLINK(\\"http://x\\")"}',
         "datetime: expected a time like 'Mon Nov 24 10:00:00 2026', got 'yesterday-ish'"],
    )

    # ---- analysis --------------------------------------------------------------------------------
    identity = tmp_path / "identity.toml"
    identity.write_text(IDENTITY_TOML, encoding="utf-8")
    con.execute(
        "INSERT INTO analysis_runs (analysis_id, period_start, period_end, identity_map_path, identity_map_sha256, "
        "started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ["an-20261124", SINCE, UNTIL, str(identity), sha(IDENTITY_TOML), GENERATED_AT - timedelta(hours=1),
         GENERATED_AT - timedelta(minutes=59)],
    )
    hostile_rid = next(r[0] for r in web_rows if r[2] == HOSTILE_LOGIN)
    legacy_rid = next(r[0] for r in web_rows if r[2] == "svc-legacy@corp.example")
    unattributed = [a[1] for a in attributions if a[12] == "unattributed" and a[0] == "zia_web"]
    findings = [
        # id, kind, severity, controls, status, time, attempt row, login, host, detail, evidence, gap, exception
        ("F-unmapped-hostile", "unmapped_identity", "high", ["CC6.1", "CC7.3"], "open", DAY + timedelta(hours=13, minutes=7),
         att_rows[5], HOSTILE_LOGIN, "evil.example", f"Request as {HOSTILE_LOGIN} to {HOSTILE_URL} is not mapped",
         [hostile_rid], None, None),
        ("F-unmapped-legacy", "unmapped_identity", "medium", ["CC6.1"], "accepted", DAY + timedelta(hours=10, minutes=5),
         att_rows[3], "svc-legacy@corp.example", "legacy.partner.example", "svc-legacy@corp.example is not mapped to legacy_export",
         [legacy_rid], None, ("jane.doe@corp.example", "Legacy export until vendor migration", "SEC-1234", date(2027, 3, 31), None)),
        ("F-bypass-expired", "egress_bypass", "critical", ["CC6.6"], "open", DAY + timedelta(hours=12, minutes=5),
         att_rows[4], None, "files.vendor.example", "Log names sftp://files.vendor.example/in; no Zscaler request from the worker",
         [], None, (None, None, None, None,
                    "exception #2 (SEC-0999, approved by bob.roe@corp.example) matches but expired on 2026-10-31; "
                    "the finding is open")),
        ("F-token-gap", "token_gap", "medium", ["CC6.1", "CC7.2"], "open", DAY + timedelta(hours=2, minutes=5),
         att_rows[1], "svc-billing@corp.example", None, "No authenticated ZPA session 02:00-02:15",
         [], (DAY + timedelta(hours=2), DAY + timedelta(hours=2, minutes=15)), None),
        ("F-silent", "silent_failure", "high", ["CC7.2"], "open", DAY + timedelta(hours=13, minutes=20),
         att_rows[5], None, None, "state success but the log ends with an exception", [], None, None),
        ("F-coverage-gap", "coverage_gap", "high", ["CC7.2"], "open", DAY + timedelta(hours=6),
         None, None, None, "ZIA web delivered no record from 2026-11-24T06:00:00Z to 2026-11-24T09:00:00Z (180 min)",
         ["source:zia_web"], (DAY + timedelta(hours=6), DAY + timedelta(hours=9)), None),
    ] + [
        (f"F-unattr-{i}", "unattributed_egress", "low", ["CC6.6", "CC7.2"], "open", None, None,
         "svc-billing@corp.example", "api.billing.example", "Worker request no task attempt explains", [rid], None, None)
        for i, rid in enumerate(unattributed, start=1)
    ]
    rows = []
    for fid, kind, sev, controls, status, t, arow, login, host, detail, ev, gap, exc in findings:
        if t is None:  # timed by its request
            t = next(a[2] for a in attributions if a[1] == ev[0])
        rows.append([fid, kind, sev, controls, status, t, arow[0] if arow else None,
                     arow[1] if arow else None, arow[2] if arow else None, arow[3] if arow else None,
                     arow[4] if arow else None, arow[5] if arow else None, login, host, detail, ev,
                     gap[0] if gap else None, gap[1] if gap else None,
                     *(exc if exc else (None, None, None, None, None)), "an-20261124",
                     kind.replace("_", " ").capitalize(), len(ev)])
    insert(con, "findings", FINDING_COLS, rows)
    con.executemany(
        "INSERT INTO not_evaluable (check_kind, attempt_id, dag_id, run_id, task_id, map_index, try_number, reason, "
        "analysis_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [["token_gap", a_export, "legacy_export", att_rows[3][2], "export", -1, 1,
          "no ZPA user status events for airflow-worker-1 during the attempt", "an-20261124"],
         ["silent_failure", a_fetch1, "billing_daily", att_rows[1][2], "fetch", -1, 1,
          "task log has no return code line", "an-20261124"]],
    )

    statuses = [a[12] for a in attributions]
    return Expected(
        zia_web=len(web_rows), zpa_activity=len(zpa_rows), attempts=len(att_rows),
        findings_open=sum(1 for r in rows if r[4] == "open"),
        findings_accepted=sum(1 for r in rows if r[4] == "accepted"),
        attributed=statuses.count("attributed"), ambiguous=statuses.count("ambiguous"),
        unattributed=statuses.count("unattributed"), not_worker=statuses.count("not_worker"),
        rejected=1, recordid_missing=5, identity_map=identity,
    )
