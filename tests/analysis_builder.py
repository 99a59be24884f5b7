"""Builds small analysis cases by inserting rows straight into the ingest tables.

Used by test_correlate*.py and test_findings*.py so each rule can be tested with a handful of
rows, independent of the ingesters.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path

from zsaudit import identity_map

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)

# the accounts the analysis benchmark uses too; the tests' workers follow
IDENTITY = (Path(__file__).resolve().parent.parent / "fixtures" / "identity" / "two_accounts.toml").read_text() \
    + "\n" + identity_map.dumps(workers=[{"hostname": f"worker-{i}", "ips": [f"10.0.0.{i}"],
                                          "device_hostnames": [f"worker-{i}.corp.example"]} for i in (1, 2)])

BILLING = "svc-billing@corp.example"
ETL = "svc-etl@corp.example"


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def attempt_id(dag_id, run_id, task_id, map_index=-1, try_number=1) -> str:
    key = f"{dag_id}|{run_id}|{task_id}|{map_index}|{try_number}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class Case:
    """A store plus helpers that add attempts, requests and sessions."""

    def __init__(self, store, tmp_path: Path, identity: str = IDENTITY):
        self.store = store
        self.con = store.con
        self.map_path = tmp_path / "identity.toml"
        self.map_path.write_text(identity)
        self._n = itertools.count(1)

    def identity(self, text: str) -> None:
        self.map_path.write_text(text)

    # -- Airflow side ---------------------------------------------------------------------
    def attempt(self, dag_id, task_id, start, end, *, run_id="run1", map_index=-1, try_number=1,
                hostname="worker-1", state="success") -> str:
        aid = attempt_id(dag_id, run_id, task_id, map_index, try_number)
        self.con.execute(
            "INSERT INTO task_attempts (attempt_id, dag_id, run_id, task_id, map_index, try_number, hostname, "
            "start_time, end_time, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [aid, dag_id, run_id, task_id, map_index, try_number, hostname, start, end, state])
        return aid

    def _ident(self, aid):
        return self.con.execute("SELECT dag_id, run_id, task_id, map_index, try_number FROM task_attempts "
                                "WHERE attempt_id = ?", [aid]).fetchone()

    def conn(self, aid, conn_id, t, line=10):
        self.con.execute("INSERT INTO task_connections (attempt_id, dag_id, run_id, task_id, map_index, try_number, "
                         "event_time, conn_id, source_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [aid, *self._ident(aid), t, conn_id, line])

    def hint(self, aid, host, t, line=20):
        self.con.execute("INSERT INTO task_egress_hints (attempt_id, dag_id, run_id, task_id, map_index, try_number, "
                         "event_time, url, host, source_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [aid, *self._ident(aid), t, f"https://{host}/x", host, line])

    # -- Zscaler side ---------------------------------------------------------------------
    def web(self, t, login, host, *, device="worker-1.corp.example", ip="10.0.0.1", action="Allowed", code=200,
            reason="Allowed", location="DC1") -> str:
        rid = f"web:{next(self._n)}"
        self.con.execute(
            "INSERT INTO zia_web (rid, event_time, login, location, client_ip, device_hostname, url, host, action, "
            "response_code, reason, file_id, source_file, source_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'f', 'f', 1)",
            [rid, t, login, location, ip, device, f"{host}/path", host, action, code, reason])
        return rid

    def zpa(self, t, username, host, *, ip="10.0.0.1", hostname=None, reason=None, status="close") -> str:
        rid = f"zpa:{next(self._n)}"
        self.con.execute(
            "INSERT INTO zpa_user_activity (rid, event_time, username, connection_status, internal_reason, "
            "client_private_ip, host, hostname, file_id, source_file, source_line) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'f', 'f', 1)",
            [rid, t, username, status, reason, ip, host, hostname])
        return rid

    def session(self, username, auth_at, unauth_at=None, session_id=None) -> str:
        rid = f"st:{next(self._n)}"
        sid = session_id or f"S{next(self._n)}"
        self.con.execute(
            "INSERT INTO zpa_user_status (rid, event_time, username, session_id, session_status, authenticated_at, "
            "file_id, source_file, source_line) VALUES (?, ?, ?, ?, 'ZPN_STATUS_AUTHENTICATED', ?, 'f', 'f', 1)",
            [rid, auth_at, username, sid, auth_at])
        if unauth_at is not None:
            self.con.execute(
                "INSERT INTO zpa_user_status (rid, event_time, username, session_id, session_status, authenticated_at, "
                "unauthenticated_at, file_id, source_file, source_line) "
                "VALUES (?, ?, ?, ?, 'ZPN_STATUS_DISCONNECTED', ?, ?, 'f', 'f', 1)",
                [rid + "d", unauth_at, username, sid, auth_at, unauth_at])
        return sid

    def always_authenticated(self, *logins):
        """Sessions re-authenticated every 10 minutes (12-minute sessions, so windows overlap)
        from two hours before T0 to a day after: no token gaps."""
        for login in logins:
            self.con.execute(
                "INSERT INTO zpa_user_status (rid, event_time, username, session_id, session_status, "
                "authenticated_at, unauthenticated_at, file_id, source_file, source_line) "
                "SELECT 'st:' || ? || i, ts, ?, ? || i, 'ZPN_STATUS_AUTHENTICATED', ts, NULL, 'f', 'f', 1 "
                "FROM (SELECT i, ?::TIMESTAMPTZ + i * INTERVAL 10 MINUTE AS ts FROM range(156) t(i))",
                [login, login, login, T0 - timedelta(hours=2)])

    # -- analysis -------------------------------------------------------------------------
    def analyze(self, **kw):
        from zsaudit.analyze.analysis import analyze
        return analyze(self.store, self.map_path, **kw)

    def findings(self, kind=None):
        from zsaudit.analyze.listing import list_findings
        return list_findings(self.store, kind=kind)

    def attribution(self, rid):
        row = self.con.execute("SELECT status, attempt_id, method, candidates, confidence FROM attributions "
                               "WHERE request_rid = ?", [rid]).fetchone()
        return row

    def not_evaluable(self, check=None):
        return self.con.execute("SELECT check_kind, attempt_id, login, reason FROM not_evaluable "
                                "WHERE ? IS NULL OR check_kind = ? ORDER BY ALL", [check, check]).fetchall()
