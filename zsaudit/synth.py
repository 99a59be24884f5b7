"""Synthetic but realistic inputs with planted anomalies and a truth file.

`synthesize(out_dir, requests=N, seed=S)` writes a night of a small Airflow fleet behind Zscaler:

    out_dir/zscaler/zia_web.<fmt>            ZIA web log in the chosen NSS feed format
    out_dir/zscaler/zpa_user_activity.json   ZPA LSS user activity (JSON lines)
    out_dir/zscaler/zpa_user_status.json     ZPA LSS user status (JSON lines)
    out_dir/airflow/logs/dag_id=.../attempt=N.log   Airflow 3 JSON task logs, default path layout
    out_dir/airflow/task_instances.json      REST API v2 task-instance collection (host, state, times)
    out_dir/identity.toml                    the identity map for the fleet
    out_dir/truth.json                       every planted finding, the period, expected counts

The normal workload is clean by construction (every request inside its attempt, every login
allowed, tokens re-authenticated every 10 minutes with overlapping windows, concurrent attempts
on one worker told apart by login or by logged host, retries, mapped tasks, per-worker clock
skew within the map's tolerance). The planted cases run after it, each in its own time slot, so
the truth is exact. Same seed, same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from . import identity_map
from .ingest import nss_writer
from .timeutil import iso_z

DAY = datetime(2026, 11, 24, tzinfo=timezone.utc)
SKEW = timedelta(seconds=5)
LIFETIME = timedelta(minutes=15)
REAUTH = timedelta(minutes=10)
SESSION = timedelta(minutes=12)

# (name, ip, device hostname, Zscaler clock minus Airflow clock in seconds)
WORKERS = [
    ("airflow-worker-1", "10.20.0.11", "airflow-worker-1.corp.example", 0),
    ("airflow-worker-2", "10.20.0.12", "airflow-worker-2.corp.example", 3),
    ("airflow-worker-3", "10.20.0.13", "airflow-worker-3.corp.example", -2),
]
NAT_IP = "198.51.100.20"
# The routine DAGs (the planted cases add their own: adhoc_backfill, legacy_export, ...).
LANE_A_DAGS = {"billing": ["billing_daily", "billing_invoices", "billing_refunds"],
               "reports": ["reports_daily", "reports_weekly"]}
LANE_B_DAGS = ["etl_hourly", "etl_orders", "etl_customers", "etl_inventory"]
BILLING, ETL, REPORTS = "svc-billing@corp.example", "svc-etl@corp.example", "svc-reports@corp.example"
LEGACY, PERSONAL, LOCATION = "svc-legacy@corp.example", "jdoe@corp.example", "DC1-Frankfurt"

POLICY = {"token_lifetime": "15m", "clock_skew": "5s"}
SERVICE_ACCOUNTS = [
    {"name": "svc-billing", "zscaler_logins": [BILLING], "dags": ["billing_*"], "connections": ["billing_api"],
     "allowed_hosts": ["api.billing.example", "*.s3.amazonaws.com"]},
    {"name": "svc-etl", "zscaler_logins": [ETL], "dags": ["etl_*"], "connections": ["warehouse"],
     "allowed_hosts": ["*.warehouse.example"]},
    {"name": "svc-reports", "zscaler_logins": [REPORTS], "dags": ["reports_*"], "connections": ["smtp_relay"],
     "allowed_hosts": ["mail.reports.example"]},
]
EXCEPTIONS = [
    {"kind": "unmapped_identity", "match": {"login": LEGACY, "dag": "legacy_export"}, "approver": "jane.doe@corp.example",
     "reason": "Legacy export until vendor migration", "ticket": "SEC-1234", "expires": "2027-03-31"},
    {"kind": "unmapped_identity", "match": {"login": PERSONAL}, "approver": "jane.doe@corp.example",
     "reason": "Partner sync pilot with a personal account", "ticket": "SEC-1180", "expires": "2026-01-31"},
]


def worker_tables(workers=WORKERS) -> list[dict]:
    """[[worker]] tables of the fleet's workers (name, ip, device hostname, clock offset)."""
    return [{"hostname": name, "ips": [ip], "device_hostnames": [dev]} for name, ip, dev, _ in workers]


def identity_toml(legacy_expires: date | None = None) -> str:
    """The identity map of the synthetic fleet (identity.toml of `zsaudit synth`); legacy_expires:
    when the legacy export's exception ends (default LEGACY_EXPIRES)."""
    legacy = {**EXCEPTIONS[0], "expires": (legacy_expires or LEGACY_EXPIRES).isoformat()}
    return identity_map.dumps(header="Identity map of the synthetic fleet (zsaudit synth). See docs/identity-map.md.",
                              policy=POLICY, service_accounts=SERVICE_ACCOUNTS, workers=worker_tables(),
                              exceptions=[legacy, *EXCEPTIONS[1:]])


@dataclass
class Request:
    t: datetime                      # Airflow (true) clock; the log shows t + worker offset
    login: str | None
    host: str
    worker: int                      # index into WORKERS, or -1 for a non-worker client
    via: str = "zia"                 # zia | zpa
    action: str = "Allowed"
    code: int = 200
    reason: str = "Allowed"
    internal_reason: str | None = None
    path: str = "/"
    nat: bool = False
    location: str = LOCATION


@dataclass
class Attempt:
    dag_id: str
    run_id: str
    task_id: str
    worker: int
    start: datetime
    end: datetime
    state: str = "success"
    map_index: int = -1
    try_number: int = 1
    max_tries: int = 1
    operator: str = "PythonOperator"
    logged_hosts: list = field(default_factory=list)       # (t, host, path, level, text)
    extra_lines: list = field(default_factory=list)        # (t, level, event, logger)
    ti_id: str = ""

    @property
    def attempt_id(self) -> str:
        return attempt_id(self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number)


@dataclass
class SynthResult:
    out_dir: Path
    requests: int
    attempts: int
    planted: int
    since: datetime
    until: datetime
    truth_path: Path
    identity_path: Path
    files: list[Path]


def _iso(t):
    return iso_z(t, "microseconds")   # this module's precision of timeutil.iso_z



def attempt_id(dag_id, run_id, task_id, map_index=-1, try_number=1) -> str:
    """The project's attempt key: first 16 hex of sha256("dag_id|run_id|task_id|map_index|try_number")."""
    return hashlib.sha256(f"{dag_id}|{run_id}|{task_id}|{map_index}|{try_number}".encode()).hexdigest()[:16]


def _sec(t: datetime) -> datetime:
    return t.replace(microsecond=0)


class _Fleet:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.attempts: list[Attempt] = []
        self.requests: list[Request] = []
        self.truth: list[dict] = []

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, a: Attempt) -> Attempt:
        a.ti_id = self.uid()
        self.attempts.append(a)
        return a

    def calls(self, a: Attempt, login, host, n, *, log=False, via="zia", **kw) -> list[Request]:
        """n requests of attempt a to host, spread inside its run (at least 1 s from the edges)."""
        out = []
        span = (a.end - a.start).total_seconds() - 2.0
        for i in range(n):
            t = a.start + timedelta(seconds=1.0 + span * (i + self.rng.random()) / n)
            path = f"/v1/{self.rng.choice(['items', 'export', 'batch', 'status'])}/{self.rng.randrange(10**6)}"
            r = Request(t=t, login=login, host=host, worker=a.worker, via=via, path=path, **kw)
            out.append(r)
            if log and i == 0:
                a.logged_hosts.append((t, host, path))
        self.requests.extend(out)
        return out


def _normal_workload(fleet: _Fleet, start: datetime, target: int) -> datetime:
    """Two lanes per worker: lane A runs billing/reports DAGs, lane B runs etl DAGs (mapped
    loads run their three map indexes concurrently and log their shard host). Returns the end."""
    rng = fleet.rng
    lanes = [(w, lane, start + timedelta(seconds=rng.randrange(0, 60))) for w in range(len(WORKERS)) for lane in "AB"]
    run_no = 0
    while len(fleet.requests) < target:
        lanes.sort(key=lambda x: (x[2], x[0], x[1]))
        w, lane, t = lanes.pop(0)
        run_no += 1
        run_id = f"scheduled__{(start + timedelta(minutes=run_no)).strftime('%Y-%m-%dT%H:%M:%S')}+00:00"
        if lane == "A":
            family, login = rng.choice([("billing", BILLING), ("billing", BILLING), ("reports", REPORTS)])
            billing = family == "billing"
            dag = LANE_A_DAGS[family][run_no % len(LANE_A_DAGS[family])]
            task, host = (("extract", "api.billing.example") if billing and rng.random() < 0.6
                          else ("upload", "billing-exports.s3.amazonaws.com") if billing
                          else ("render", "mail.reports.example"))
            dur = timedelta(seconds=rng.randrange(40, 200))
            retry = rng.random() < 0.1
            a = fleet.add(Attempt(dag, run_id, task, w, t, t + dur, max_tries=2,
                                  state="failed" if retry else "success"))
            n = rng.randrange(3, 12)
            reqs = fleet.calls(a, login, host, n, log=rng.random() < 0.5)
            if rng.random() < 0.05:                          # a NATed request: only the login tells
                reqs[0].nat = True
            if retry:                                        # upstream 503, task fails, retried
                reqs[-1].code, reqs[-1].reason = 503, "Allowed"
                a.extra_lines.append((a.end - timedelta(milliseconds=5), "error", "Task failed with exception", "task"))
                t2 = a.end + timedelta(seconds=rng.randrange(20, 40))
                b = fleet.add(Attempt(dag, run_id, task, w, t2, t2 + dur, try_number=2, max_tries=2))
                fleet.calls(b, login, host, n, log=rng.random() < 0.5)
                a = b
            nxt = a.end + timedelta(seconds=rng.randrange(15, 60))
        else:
            dag = LANE_B_DAGS[run_no % len(LANE_B_DAGS)]
            if rng.random() < 0.5:
                a = fleet.add(Attempt(dag, run_id, "extract", w, t, t + timedelta(seconds=rng.randrange(40, 150))))
                fleet.calls(a, ETL, "files.warehouse.example", rng.randrange(3, 10), log=rng.random() < 0.5)
                end = a.end
            else:
                dur = timedelta(seconds=rng.randrange(60, 180))
                end = t
                for i in range(3):
                    s = t + timedelta(seconds=i * 2)
                    a = fleet.add(Attempt(dag, run_id, "load", w, s, s + dur, map_index=i))
                    fleet.calls(a, ETL, f"shard-{i}.warehouse.example", rng.randrange(2, 6), log=True, via="zpa")
                    end = max(end, a.end)
            nxt = end + timedelta(seconds=rng.randrange(15, 60))
        lanes.append((w, lane, nxt))
    return max((a.end for a in fleet.attempts), default=start)   # a night of the planted cases only: none


def _expect(fleet: _Fleet, kind, subtype, *, a: Attempt | None = None, worker=None, login=None, host=None,
            conn_id=None, status="open", note=None) -> None:
    fleet.truth.append({
        "kind": kind, "subtype": subtype, "status": status,
        "dag_id": a.dag_id if a else None, "run_id": a.run_id if a else None,
        "task_id": a.task_id if a else None, "map_index": a.map_index if a else None,
        "try_number": a.try_number if a else None, "attempt_id": a.attempt_id if a else None,
        "worker": WORKERS[worker][0] if worker is not None else None,
        "login": login, "host": host, "conn_id": conn_id, "note": note,
    })


PLANTED = ("personal_login", "legacy_login", "dag_not_allowed", "conn_unlisted", "no_identity", "token_refused_zia",
           "token_refused_zpa", "silent_failure", "egress_bypass", "unattributed_egress", "token_no_session")


def _planted(fleet: _Fleet, start: datetime, cases=PLANTED, *, legacy_accepted: bool = True
             ) -> tuple[datetime, tuple[datetime, datetime] | None]:
    """Each planted case (of `cases`, names in PLANTED) in its own 6-minute slot. Returns the end
    and the reports token gap (None when that case is not planted)."""
    on = set(cases).__contains__
    slot = [start + timedelta(minutes=6 * i) for i in range(14)]
    run = "manual__" + start.strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    sec = lambda i, s: slot[i] + timedelta(seconds=s)  # noqa: E731

    # 1. a personal login used by an allowed DAG; its exception expired -> open, with a note
    if on("personal_login"):
        a = fleet.add(Attempt("etl_partner_sync", run, "push", 1, sec(0, 10), sec(0, 130)))
        fleet.calls(a, ETL, "files.warehouse.example", 3)
        fleet.calls(a, PERSONAL, "api.partner.example", 4, log=True)
        _expect(fleet, "unmapped_identity", "unknown_login", a=a, worker=1, login=PERSONAL, host="api.partner.example",
                note="exception SEC-1180 expired")

    # 2. a legacy login with an approved, valid exception -> accepted
    if on("legacy_login"):
        a = fleet.add(Attempt("legacy_export", run, "export", 2, sec(1, 10), sec(1, 100)))
        fleet.calls(a, LEGACY, "sftp.vendor.example", 5)
        _expect(fleet, "unmapped_identity", "unknown_login", a=a, worker=2, login=LEGACY, host="sftp.vendor.example",
                status="accepted" if legacy_accepted else "open",
                note=None if legacy_accepted else "exception SEC-1234 expired")

    # 3. a service-account login used by a DAG its globs don't allow
    if on("dag_not_allowed"):
        a = fleet.add(Attempt("adhoc_backfill", run, "reprocess", 0, sec(2, 10), sec(2, 150)))
        fleet.calls(a, BILLING, "api.billing.example", 6)
        _expect(fleet, "unmapped_identity", "dag_not_allowed", a=a, worker=0, login=BILLING, host="api.billing.example")

    # 4. a connection no service account lists
    if on("conn_unlisted"):
        a = fleet.add(Attempt("billing_daily", run, "upload_gdrive", 1, sec(3, 10), sec(3, 120)))
        fleet.calls(a, BILLING, "billing-exports.s3.amazonaws.com", 3)
        a.extra_lines.append((a.start + timedelta(seconds=2), "info", "Using connection ID 'personal_gdrive' for task execution.",
                              "airflow.task.hooks.airflow.providers.google.suite.hooks.drive.GoogleDriveHook"))
        _expect(fleet, "unmapped_identity", "conn_unlisted", a=a, worker=1, conn_id="personal_gdrive")

    # 5. a worker request with no authenticated user (login is the location name)
    if on("no_identity"):
        a = fleet.add(Attempt("billing_daily", run, "fetch_rates", 0, sec(4, 10), sec(4, 110)))
        fleet.calls(a, BILLING, "api.billing.example", 3)
        fleet.calls(a, LOCATION, "rates.example.org", 2, log=True)
        _expect(fleet, "unmapped_identity", "no_identity", a=a, worker=0, login=LOCATION, host="rates.example.org")

    # 6. refused for authentication (407) on try 1, which fails; try 2 on another worker succeeds
    if on("token_refused_zia"):
        a = fleet.add(Attempt("billing_daily", run, "charge", 1, sec(5, 10), sec(5, 70), state="failed", max_tries=2))
        reqs = fleet.calls(a, BILLING, "api.billing.example", 4)
        reqs[-1].action, reqs[-1].code = "Blocked", 407
        reqs[-1].reason = "Unenrolled user is not allowed to establish SSL connection"
        a.extra_lines.append((a.end - timedelta(milliseconds=5), "error", "Task failed with exception", "task"))
        b = fleet.add(Attempt("billing_daily", run, "charge", 2, sec(5, 100), sec(5, 160), try_number=2, max_tries=2))
        fleet.calls(b, BILLING, "api.billing.example", 4)
        _expect(fleet, "token_gap", "refused", a=a, worker=1, login=BILLING, host="api.billing.example")

    # 7. refused by ZPA (SAML expired) in an etl attempt that fails
    if on("token_refused_zpa"):
        a = fleet.add(Attempt("etl_hourly", run, "sync_db", 2, sec(6, 10), sec(6, 90), state="failed"))
        fleet.calls(a, ETL, "files.warehouse.example", 3)
        r = fleet.calls(a, ETL, "db.warehouse.example", 1, via="zpa")[0]
        r.internal_reason = "BRK_MT_SETUP_FAIL_SAML_EXPIRED"
        _expect(fleet, "token_gap", "refused", a=a, worker=2, login=ETL, host="db.warehouse.example")

    # 8. silent failure: mapped load, map_index 1 blocked but the attempt succeeded
    if on("silent_failure"):
        mapped = []
        for i in range(3):
            m = fleet.add(Attempt("etl_hourly", run, "load", 1, sec(7, 10 + i), sec(7, 150), map_index=i))
            fleet.calls(m, ETL, f"shard-{i}.warehouse.example", 3, log=True)
            mapped.append(m)
        blocked = fleet.calls(mapped[1], ETL, "shard-1.warehouse.example", 1)[0]
        blocked.action, blocked.code, blocked.reason = "Blocked", 403, "Not allowed to browse this category"
        _expect(fleet, "silent_failure", "blocked", a=mapped[1], worker=1, login=ETL, host="shard-1.warehouse.example")

    # 9. egress bypass: the log names a host no Zscaler record shows
    if on("egress_bypass"):
        a = fleet.add(Attempt("reports_daily", run, "notify", 2, sec(8, 10), sec(8, 120), operator="HttpOperator"))
        fleet.calls(a, REPORTS, "mail.reports.example", 3, log=True)
        a.extra_lines.append((a.start + timedelta(seconds=30), "debug",
                              "Sending 'POST' to url: https://hooks.partner.example/notify",
                              "airflow.task.hooks.airflow.providers.http.hooks.http.HttpHook"))
        _expect(fleet, "egress_bypass", "no_zscaler_record", a=a, worker=2, host="hooks.partner.example")

    # 10. worker traffic with no attempt running
    if on("unattributed_egress"):
        for k in range(3):
            fleet.requests.append(Request(t=sec(9, 20 + 40 * k), login=ETL, host="repo.pypi.example", worker=2,
                                          path="/simple/requests/"))
        _expect(fleet, "unattributed_egress", "worker", worker=2, login=ETL, host="repo.pypi.example")
        # ... and a host svc-etl's allowed_hosts do not list
        _expect(fleet, "unmapped_identity", "host_not_allowed", worker=2, login=ETL, host="repo.pypi.example")

    # 11. token gap: svc-reports is not re-authenticated around slot 12 (well after slot 8)
    if on("token_no_session"):
        a = fleet.add(Attempt("reports_daily", run, "send", 0, sec(12, 60), sec(12, 240)))
        fleet.calls(a, REPORTS, "mail.reports.example", 5)
        _expect(fleet, "token_gap", "no_session", a=a, worker=0, login=REPORTS, host="mail.reports.example")
    return slot[13] + timedelta(minutes=6), (slot[12], slot[13]) if on("token_no_session") else None


def _sessions(login: str, start: datetime, end: datetime, skip: tuple[datetime, datetime] | None, rng) -> list[dict]:
    out = []
    t = start
    n = 0
    while t < end:
        n += 1
        if not (skip and t + SESSION > skip[0] - timedelta(minutes=1) and t < skip[1] + timedelta(minutes=1)):
            sid = hashlib.sha1(f"{login}{n}".encode()).hexdigest()[:20]
            base = {"username": login, "customer": "Corp", "session_id": sid, "client_public_ip": NAT_IP,
                    "client_private_ip": WORKERS[0][1], "hostname": WORKERS[0][2], "platform": "linux",
                    "client_type": "zpn_client_type_zapp", "version": "4.5.0.344", "idp": "Corp Okta"}
            auth = t + timedelta(milliseconds=rng.randrange(0, 999))
            out.append({**base, "event_time": auth, "session_status": "ZPN_STATUS_AUTHENTICATED",
                        "authenticated_at": auth, "unauthenticated_at": None})
            out.append({**base, "event_time": auth + SESSION, "session_status": "ZPN_STATUS_DISCONNECTED",
                        "authenticated_at": auth, "unauthenticated_at": auth + SESSION})
        t += REAUTH
    return out


def _zia_record(r: Request, rid: int, rng) -> dict:
    offset = timedelta(seconds=WORKERS[r.worker][3]) if r.worker >= 0 else timedelta(0)
    if r.worker >= 0:
        ip = NAT_IP if r.nat else WORKERS[r.worker][1]
        device = None if r.nat else WORKERS[r.worker][2]
        owner = None if r.nat else "airflow"
    else:
        ip, device, owner = f"10.30.0.{rng.randrange(2, 250)}", f"LAPTOP-{rng.randrange(1000, 9999)}", "staff"
    return {
        "event_time": _sec(r.t + offset), "login": r.login,
        "department": "Default Department" if r.login == r.location else "Data Platform",
        "location": r.location, "client_ip": ip, "client_public_ip": NAT_IP,
        "server_ip": "0.0.0.0" if r.action == "Blocked" else f"203.0.113.{rng.randrange(1, 250)}",
        "device_hostname": device, "device_owner": owner, "request_method": rng.choice(["GET", "GET", "POST"]),
        "url": r.host + r.path, "host": r.host, "protocol": "HTTPS", "response_code": r.code, "action": r.action,
        "reason": r.reason, "url_category": "Professional Services", "url_super_category": "Business and Economy",
        "url_class": "Business Use", "app_name": "General Browsing", "app_class": "General Browsing",
        "user_agent": "python-requests/2.32.3", "referer": None, "request_size": rng.randrange(200, 4000),
        "response_size": rng.randrange(300, 90000), "total_size": None, "risk_score": 0, "threat_name": None,
        "malware_category": None, "rule_type": "URL" if r.action == "Blocked" else None,
        "rule_label": "Block_Uncategorized" if r.action == "Blocked" else None, "content_type": "application/json",
        "forward_method": "Zscaler Client Connector", "record_id": 700000000 + rid,
    }


def _zpa_record(r: Request, n: int, rng) -> dict:
    offset = timedelta(seconds=WORKERS[r.worker][3])
    t = _sec(r.t + offset)
    sid = hashlib.sha1(f"zpa{r.worker}{r.login}".encode()).hexdigest()[:20]
    return {
        "event_time": t, "username": r.login, "customer": "Corp", "session_id": sid,
        "connection_id": f"{sid},{n:08d}", "connection_status": "close", "internal_reason": r.internal_reason,
        "client_public_ip": NAT_IP, "client_private_ip": WORKERS[r.worker][1], "host": r.host,
        "application": "warehouse", "app_group": "data", "policy": "Airflow_Data_Access",
        "server_ip": f"172.16.5.{rng.randrange(2, 250)}", "server_port": 5432, "connector": "dc1-connector-1",
        "ip_protocol": 6, "connection_start": t - timedelta(seconds=1), "connection_end": t, "idp": "Corp Okta",
        "hostname": WORKERS[r.worker][2],
    }


def _log_lines(a: Attempt) -> list[str]:
    ident = {"dag_id": a.dag_id, "task_id": a.task_id, "run_id": a.run_id, "try_number": a.try_number,
             "map_index": a.map_index, "ti_id": a.ti_id}

    def line(t, level, event, logger, with_ident=True, **extra):
        rec = {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "level": level, "event": event}
        if with_ident:
            rec.update(ident)
        rec.update(extra)
        rec["logger"] = logger
        return (t, json.dumps(rec, separators=(",", ":")))

    ms = lambda k: a.start + timedelta(milliseconds=k)  # noqa: E731
    out = [
        line(a.start, "info", "::group::Pre Execute", "task", with_ident=False, filename="task_runner.py", lineno=2412),
        line(ms(12), "info", "DAG bundles loaded: dags-folder", "airflow.dag_processing.bundles.manager.DagBundlesManager"),
        line(ms(20), "info", f"Filling up the DagBag from /opt/airflow/dags/{a.dag_id}.py",
             "airflow.dag_processing.dagbag.BundleDagBag"),
        line(ms(160), "info", "::endgroup::", "task"),
    ]
    for t, host, path in a.logged_hosts:
        out.append(line(t + timedelta(milliseconds=300), "info", f"fetched https://{host}{path} status 200", "task.stdout"))
    for t, level, event, logger in a.extra_lines:
        extra = {}
        if event == "Task failed with exception":
            extra["error_detail"] = [{"exc_type": "HTTPError", "exc_value": "request refused", "exc_notes": [],
                                      "syntax_error": None, "is_cause": False, "frames": [], "is_group": False,
                                      "exceptions": []}]
        out.append(line(t, level, event, logger, **extra))
    out.append(line(a.end - timedelta(milliseconds=3), "info", "::group::Post Execute", "task"))
    out.append(line(a.end, "info", "::endgroup::", "task"))
    out.sort(key=lambda x: x[0])
    return [text for _, text in out]



def _task_instance(a: Attempt, pid: int) -> dict:
    logical = a.run_id.split("__", 1)[1] if "__" in a.run_id else None
    return {
        "id": a.ti_id, "task_id": a.task_id, "task_display_name": a.task_id, "dag_id": a.dag_id,
        "dag_display_name": a.dag_id, "dag_run_id": a.run_id, "map_index": a.map_index,
        "rendered_map_index": str(a.map_index) if a.map_index >= 0 else None,
        "logical_date": logical, "run_after": logical, "start_date": _iso(a.start), "end_date": _iso(a.end),
        "duration": round((a.end - a.start).total_seconds(), 3), "state": a.state, "try_number": a.try_number,
        "max_tries": a.max_tries, "hostname": f"{WORKERS[a.worker][0]}.cluster.local", "unixname": "airflow",
        "pool": "default_pool", "pool_slots": 1, "queue": "default", "priority_weight": 1,
        "operator": a.operator, "operator_name": a.operator, "queued_when": _iso(a.start - timedelta(seconds=2)),
        "scheduled_when": _iso(a.start - timedelta(seconds=3)), "pid": pid, "executor": None,
        "executor_config": "{}", "note": None, "rendered_fields": {}, "trigger": None, "triggerer_job": None,
        "dag_version": None,
    }


LEGACY_EXPIRES = date(2027, 3, 31)


def synthesize(out_dir, *, requests: int = 2000, seed: int = 1, zia_format: str = "json",
               day: date | None = None, planted=PLANTED, zscaler: bool = True,
               legacy_expires: date = LEGACY_EXPIRES) -> SynthResult:
    """Write the synthetic fleet's logs, identity map and truth file under out_dir: the UTC night
    of `day` (default 2026-11-24). Nights of different days can share one store: their run ids,
    attempt ids and ZIA record ids differ. `planted`: which planted cases (names in PLANTED);
    zscaler=False writes no Zscaler file (a feed outage); legacy_expires: when the legacy
    login's exception (SEC-1234) ends."""
    night = DAY if day is None else datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
    if zia_format not in nss_writer.FORMATS:
        raise ValueError(f"zia_format must be one of {nss_writer.FORMATS}, got {zia_format!r}")
    out = Path(out_dir)
    rng = random.Random(seed)
    fleet = _Fleet(rng)
    start = night + timedelta(hours=1)
    normal_end = _normal_workload(fleet, start, max(0, requests - 60))
    planted_start = (normal_end + timedelta(minutes=5)).replace(second=0, microsecond=0)
    end, gap_slot = _planted(fleet, planted_start, planted, legacy_accepted=night.date() <= legacy_expires)

    # staff traffic from laptops: not worker traffic, never flagged
    for _ in range(max(5, requests // 20)):
        t = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
        fleet.requests.append(Request(t=t, login=f"user{rng.randrange(1, 40)}@corp.example",
                                      host=rng.choice(["www.wikipedia.org", "github.com", "mail.google.com"]),
                                      worker=-1, location="HQ-Berlin"))
    since, until = night, night + timedelta(days=1)

    files: list[Path] = []
    fleet.requests.sort(key=lambda r: (r.t, r.host))
    zia = [_zia_record(r, i, rng) for i, r in enumerate(fleet.requests) if r.via == "zia"]
    zpa = [_zpa_record(r, i, rng) for i, r in enumerate(fleet.requests) if r.via == "zpa"]
    zia.sort(key=lambda d: (d["event_time"], d["record_id"]))
    for n, rec in enumerate(zia):  # one NSS feed numbers its records without gaps
        rec["record_id"] = 700000000 + (night - DAY).days * 1_000_000 + n
    zpa.sort(key=lambda d: (d["event_time"], d["connection_id"]))
    status = []
    for login in (BILLING, ETL, REPORTS):
        status += _sessions(login, start - timedelta(minutes=30), end + timedelta(minutes=30),
                            gap_slot if login == REPORTS else None, rng)
    status.sort(key=lambda d: (d["event_time"], d["username"]))
    if zscaler:
        files.append(nss_writer.write(zia, "zia_web", zia_format, out / "zscaler" / f"zia_web.{zia_format}"))
        files.append(nss_writer.write(zpa, "zpa_user_activity", "json", out / "zscaler" / "zpa_user_activity.json"))
        files.append(nss_writer.write(status, "zpa_user_status", "json", out / "zscaler" / "zpa_user_status.json"))

    logs = out / "airflow" / "logs"
    for a in fleet.attempts:
        rel = Path(f"dag_id={a.dag_id}", f"run_id={a.run_id}", f"task_id={a.task_id}")
        if a.map_index >= 0:
            rel = rel / f"map_index={a.map_index}"
        path = logs / rel / f"attempt={a.try_number}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(_log_lines(a)) + "\n", encoding="utf-8")
        files.append(path)
    tis = [_task_instance(a, 4000 + i) for i, a in enumerate(fleet.attempts)]
    ti_path = out / "airflow" / "task_instances.json"
    ti_path.write_text(json.dumps({"task_instances": tis, "total_entries": len(tis)}, indent=1) + "\n")
    files.append(ti_path)

    identity_path = out / "identity.toml"
    identity_path.write_text(identity_toml(legacy_expires), encoding="utf-8")
    files.append(identity_path)

    logged = {a.attempt_id for a in fleet.attempts if a.logged_hosts or any(
        "url:" in e[2] for e in a.extra_lines)}
    truth = {
        "generator": "zsaudit synth", "seed": seed, "requests": len(zia) + len(zpa), "zia_format": zia_format,
        "period": {"since": _iso(since), "until": _iso(until)}, "zscaler_delivered": zscaler,
        "attempts": len(fleet.attempts),
        "findings": sorted(fleet.truth, key=lambda f: (f["kind"], f["subtype"], f["attempt_id"] or "", f["host"] or "")),
        "not_evaluable": {"egress_bypass": len(fleet.attempts) - len(logged)},
        "notes": {
            "clock_offsets_s": {name: off for name, _, _, off in WORKERS},
            "token_gap_slot": [_iso(gap_slot[0]), _iso(gap_slot[1])] if gap_slot else None,
            "nat_ip": NAT_IP,
        },
    }
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    files.append(truth_path)
    return SynthResult(out_dir=out, requests=truth["requests"], attempts=len(fleet.attempts),
                       planted=len(fleet.truth), since=since, until=until, truth_path=truth_path,
                       identity_path=identity_path, files=files)


# -- a period of nights (issue 16) ---------------------------------------------------------------
@dataclass
class NightsResult:
    out_dir: Path
    nights: int
    since: date
    until: date
    requests: int
    truth_path: Path
    identity_path: Path
    outage: list[date]


def night_schedule(nights: int, start: date) -> dict:
    """Which planted case runs on which night of a period of `nights` nights from `start`: most
    persist all period; dag_not_allowed appears a sixth in and persists; conn_unlisted lasts 5
    nights from a quarter in; egress_bypass stops the night before a two-night Zscaler outage in the
    middle (so it resolves only after the outage); silent_failure runs the first ninth, is resolved,
    and comes back for another ninth two thirds in; the legacy login's exception expires two thirds in."""
    n = nights
    outage = [n // 2, n // 2 + 1] if n >= 6 else []
    ninth = max(1, n // 9)
    windows = {
        "dag_not_allowed": [(n // 6, n)],
        "conn_unlisted": [(n // 4, n // 4 + min(5, max(1, n // 8)))],
        "egress_bypass": [(0, outage[0] if outage else n)],
        "silent_failure": [(0, ninth), (2 * n // 3, 2 * n // 3 + ninth)],
    }
    per_night = []
    for i in range(n):
        cases = [c for c in PLANTED if c not in windows or any(a <= i < b for a, b in windows[c])]
        per_night.append({"night": (start + timedelta(days=i)).isoformat(), "planted": cases,
                          "zscaler_delivered": i not in outage})
    return {"nights": per_night, "outage": [(start + timedelta(days=i)).isoformat() for i in outage],
            "legacy_expires": (start + timedelta(days=2 * n // 3)).isoformat(), "windows": windows}


def synthesize_nights(out_dir, *, nights: int, start: date = date(2026, 7, 1), requests: int = 200, seed: int = 1,
                      zia_format: str = "json") -> NightsResult:
    """`nights` synthetic nights from `start` with per-night variation (night_schedule):

        out_dir/zscaler/<YYYY-MM-DD>/...   each night's Zscaler files (none on an outage night)
        out_dir/airflow/<YYYY-MM-DD>/...   each night's Airflow task logs and task instances
        out_dir/identity.toml              one identity map for the whole period
        out_dir/truth.json                 the schedule and every night's planted findings
    """
    import shutil
    import tempfile

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sched = night_schedule(nights, start)
    legacy_expires = date.fromisoformat(sched["legacy_expires"])
    total = 0
    truth_nights = []
    identity_path = out / "identity.toml"
    for i, night in enumerate(sched["nights"]):
        day = date.fromisoformat(night["night"])
        with tempfile.TemporaryDirectory(prefix=".synth-", dir=out) as tmp:
            r = synthesize(tmp, requests=requests, seed=seed * 100_003 + i, zia_format=zia_format, day=day,
                           planted=night["planted"], zscaler=night["zscaler_delivered"], legacy_expires=legacy_expires)
            one = json.loads(r.truth_path.read_text(encoding="utf-8"))
            total += one["requests"] if night["zscaler_delivered"] else 0
            truth_nights.append({**night, "findings": one["findings"], "requests": one["requests"]})
            for side in ("zscaler", "airflow"):
                if (Path(tmp) / side).exists():
                    (out / side).mkdir(parents=True, exist_ok=True)
                    shutil.move(str(Path(tmp) / side), str(out / side / day.isoformat()))
            if i == 0:
                shutil.copyfile(r.identity_path, identity_path)
    truth = {"generator": "zsaudit synth --nights", "seed": seed, "start": start.isoformat(), "nights": nights,
             "outage": sched["outage"], "legacy_expires": sched["legacy_expires"],
             "windows": {k: [list(w) for w in v] for k, v in sched["windows"].items()},
             "per_night": truth_nights}
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return NightsResult(out_dir=out, nights=nights, since=start, until=start + timedelta(days=nights),
                        requests=total, truth_path=truth_path, identity_path=identity_path,
                        outage=[date.fromisoformat(d) for d in sched["outage"]])
