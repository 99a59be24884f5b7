"""Tie each Zscaler request to the Airflow task attempt behind it.

The identity map goes into small temp tables (im_*); queries/correlate/NN_*.sql then run in
order. The interval join is sort-merge: window edges per worker are numbered, each request finds
its segment with an ASOF join and reads the attempts running in it, so the cost grows as
(n + m) log(n + m) plus the output, never n x m (docs/findings.md, "Correlation").
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb

from .. import queries
from ..identity_map import IdentityMap
from .rules import load_rule_tables, load_rules, rule_params

FAR_PAST = datetime(1970, 1, 1, tzinfo=timezone.utc)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)


def load_identity_tables(con: duckdb.DuckDBPyConnection, imap: IdentityMap) -> None:
    """The identity map as temp tables im_* that the SQL joins against."""
    con.execute("CREATE OR REPLACE TEMP TABLE im_logins (sa VARCHAR, login VARCHAR, lidx INTEGER)")
    con.execute("CREATE OR REPLACE TEMP TABLE im_dags (sa VARCHAR, pattern VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE im_conns (sa VARCHAR, conn_id VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE im_hosts (sa VARCHAR, pattern VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE im_workers (widx INTEGER, worker VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE im_worker_names (widx INTEGER, name VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE im_worker_ips (widx INTEGER, ip VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE im_ignore_hosts (pattern VARCHAR)")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE im_exceptions (idx INTEGER, kind VARCHAR, login VARCHAR, dag VARCHAR, "
        "task VARCHAR, host VARCHAR, worker VARCHAR, conn_id VARCHAR, finding_id VARCHAR, approver VARCHAR, "
        "reason VARCHAR, ticket VARCHAR, expires DATE)"
    )
    rows = {k: [] for k in ("logins", "dags", "conns", "hosts", "workers", "names", "ips")}
    for sa in imap.service_accounts:
        rows["logins"] += [(sa.name, login.lower()) for login in sa.zscaler_logins]
        rows["dags"] += [(sa.name, d) for d in sa.dags]
        rows["conns"] += [(sa.name, c) for c in sa.connections]
        rows["hosts"] += [(sa.name, h.lower()) for h in sa.allowed_hosts]
    rows["logins"] = [(sa, login, i) for i, (sa, login) in enumerate(rows["logins"], 1)]
    for widx, w in enumerate(imap.workers, 1):
        names = {w.hostname.lower(), w.hostname.lower().split(".")[0]}
        for d in w.device_hostnames:
            names |= {d.lower(), d.lower().split(".")[0]}
        rows["workers"].append((widx, w.hostname))
        rows["names"] += [(widx, n) for n in sorted(names)]
        rows["ips"] += [(widx, ip) for ip in w.ips]
    for table, key in (("im_logins", "logins"), ("im_dags", "dags"), ("im_conns", "conns"), ("im_hosts", "hosts"),
                       ("im_workers", "workers"), ("im_worker_names", "names"), ("im_worker_ips", "ips")):
        if rows[key]:
            marks = ", ".join("?" * len(rows[key][0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[key])
    con.executemany("INSERT INTO im_ignore_hosts VALUES (?)", [(h,) for h in imap.policy.ignore_hosts] or [("",)])
    exc_rows = [
        (e.index, e.kind, e.match.get("login"), e.match.get("dag"), e.match.get("task"), e.match.get("host"),
         e.match.get("worker"), e.match.get("conn_id"), e.match.get("finding_id"), e.approver, e.reason,
         e.ticket, e.expires)
        for e in imap.exceptions
    ]
    if exc_rows:
        con.executemany("INSERT INTO im_exceptions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", exc_rows)


def extended_period(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime,
                    skew: timedelta) -> tuple[datetime, datetime]:
    """The period widened to cover the whole window of every attempt that overlaps it, so an
    attempt crossing midnight sees all its traffic (findings still report the period only)."""
    row = con.execute(
        "SELECT min(start_time), max(coalesce(end_time, start_time)) FROM task_attempts "
        "WHERE coalesce(end_time, start_time) + ? >= ? AND start_time - ? < ?",
        [skew, since, skew, until],
    ).fetchone()
    lo, hi = since, until
    if row and row[0] is not None:
        lo = min(lo, row[0] - skew)
        hi = max(hi, row[1] + skew + timedelta(microseconds=1))
    return lo, hi


# The steps of queries/correlate/ by the data they need, so an engine can run each where its data
# is (zsaudit/spark/analyze.py): the attempt side (small, everywhere), the requests (per input
# chunk), the interval join (per partition key pk: one worker, or one service-account login),
# and storing the period's attributions (once).
ATTEMPT_STEPS = ("correlate/01_attempts", "correlate/02_attempt_identity", "correlate/03_attempt_hosts")
REQUEST_STEPS = ("correlate/04_requests",)
ATTRIBUTE_STEPS = ("correlate/05_windows", "correlate/06_bounds", "correlate/07_segments",
                   "correlate/08_candidates", "correlate/09_attribute")
STORE_STEPS = ("correlate/10_store_attributions",)
_SCRATCH = ("_requests", "_candidates", "_segments", "_bounds", "_windows", "_ambiguous", "_hosts_dict", "_segstat",
            "_choice", "_asof")


def prepare(con: duckdb.DuckDBPyConnection, imap: IdentityMap, *, since: datetime | None,
            until: datetime | None, analysis_id: str) -> dict:
    """Rule and identity-map tables in `con`, and the bound parameters of every correlation step."""
    since = since or FAR_PAST
    until = until or FAR_FUTURE
    skew = imap.policy.clock_skew
    ext_since, ext_until = extended_period(con, since, until, skew)
    params = {"skew": skew, "since": since, "until": until, "ext_since": ext_since,
              "ext_until": ext_until, "analysis_id": analysis_id}
    rules = load_rules()   # rule flags are computed with the requests
    load_rule_tables(con, rules)
    params.update(rule_params(rules))
    load_identity_tables(con, imap)
    return params


def run_steps(con: duckdb.DuckDBPyConnection, steps: tuple[str, ...], params: dict) -> None:
    for name in steps:
        queries.run(con, name, params)


def finish(con: duckdb.DuckDBPyConnection) -> dict:
    """Drop the scratch tables; counts of the period's requests by attribution status."""
    for table in _SCRATCH:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    counts = dict(con.execute(
        "SELECT status, count(*) FROM _attr WHERE in_period GROUP BY status").fetchall())
    return {s: int(counts.get(s, 0)) for s in ("attributed", "ambiguous", "unattributed")}


def correlate(con: duckdb.DuckDBPyConnection, imap: IdentityMap, *, since: datetime | None,
              until: datetime | None, analysis_id: str, progress=None) -> dict:
    """Build the _attempts/_requests/_attr temp tables and store the period's attributions.
    Returns counts by attribution status."""
    params = prepare(con, imap, since=since, until=until, analysis_id=analysis_id)
    run_steps(con, ATTEMPT_STEPS + REQUEST_STEPS + ATTRIBUTE_STEPS + STORE_STEPS, params)
    return finish(con)
