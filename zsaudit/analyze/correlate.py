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
from ..store import release_attribution_parts
from .rules import Rules, load_rules, rule_params

FAR_PAST = datetime(1970, 1, 1, tzinfo=timezone.utc)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)


def identity_params(imap: IdentityMap) -> dict:
    """The identity map as the column lists queries/analyze/identity_map.sql turns into im_*."""
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
    exceptions = [
        (e.index, e.kind, e.match.get("login"), e.match.get("dag"), e.match.get("task"), e.match.get("host"),
         e.match.get("worker"), e.match.get("conn_id"), e.match.get("finding_id"), e.approver, e.reason,
         e.ticket, e.expires)
        for e in imap.exceptions
    ]
    c = queries.columns
    return {**c("im_logins", "sa login lidx", rows["logins"]), **c("im_dags", "sa pattern", rows["dags"]),
            **c("im_conns", "sa conn_id", rows["conns"]), **c("im_hosts", "sa pattern", rows["hosts"]),
            **c("im_workers", "widx worker", rows["workers"]), **c("im_worker_names", "widx name", rows["names"]),
            **c("im_worker_ips", "widx ip", rows["ips"]),
            **c("im_ignore_hosts", "pattern", [(h,) for h in imap.policy.ignore_hosts] or [("",)]),
            **c("im_exceptions", "idx kind login dag task host worker conn_id finding_id approver reason ticket "
                "expires", exceptions)}


def rule_table_params(rules: Rules) -> dict:
    """The rules as the column lists queries/analyze/rules.sql turns into rule_* (kinds and
    subtypes; [auth] and [failure] are bound as lists: rules.rule_params)."""
    c = queries.columns
    return {
        **c("rule_kinds", "kind severity controls title",
            [(r.kind, r.severity, list(r.controls), r.title) for r in rules.rules.values()]),
        **c("rule_subtypes", "kind subtype severity",
            [(r.kind, sub, sev) for r in rules.rules.values() for sub, sev in r.subtype_severity.items()]),
    }


def extended_period(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime,
                    skew: timedelta) -> tuple[datetime, datetime]:
    """The period widened to cover the whole window of every attempt that overlaps it, so an
    attempt crossing midnight sees all its traffic (findings still report the period only)."""
    row = queries.one(con, "analyze/extended_period", {"skew": skew, "since": since, "until": until})
    lo, hi = since, until
    if row and row[0] is not None:
        lo = min(lo, row[0] - skew)
        hi = max(hi, row[1] + skew + timedelta(microseconds=1))
    return lo, hi


# The steps of queries/correlate/ by the data they need, so an engine can run each where its data
# is (zsaudit/spark/analyze.py): the attempt side (small, everywhere), the requests (per input
# chunk), the interval join (per partition key pk: one worker, or one service-account login),
# and storing the period's attributions: once per analysis (10), then each request's row (11, per
# partition on Spark). Their headers declare what each hands on.
ATTEMPT_STEPS = ("correlate/01_attempts", "correlate/02_attempt_identity", "correlate/03_attempt_hosts")
REQUEST_STEPS = ("correlate/04_requests",)
ATTRIBUTE_STEPS = ("correlate/05_windows", "correlate/06_bounds", "correlate/07_segments",
                   "correlate/08_candidates", "correlate/09_attribute")
STORE_ANALYSIS_STEPS = ("correlate/10_store_attributions",)
STORE_ROW_STEPS = ("correlate/11_store_attribution_rows",)
STORE_STEPS = STORE_ANALYSIS_STEPS + STORE_ROW_STEPS
# the rule and identity-map tables every step joins against
SETUP_STEPS = ("analyze/rules", "analyze/identity_map")


def prepare(con: duckdb.DuckDBPyConnection, imap: IdentityMap, *, since: datetime | None,
            until: datetime | None, analysis_id: str) -> dict:
    """Rule and identity-map tables in `con` (rule_*, im_*), and the bound parameters of every
    correlation step."""
    since = since or FAR_PAST
    until = until or FAR_FUTURE
    skew = imap.policy.clock_skew
    ext_since, ext_until = extended_period(con, since, until, skew)
    rules = load_rules()   # rule flags are computed with the requests
    queries.run(con, "analyze/rules", rule_table_params(rules))
    queries.run(con, "analyze/identity_map", identity_params(imap))
    return {"skew": skew, "since": since, "until": until, "ext_since": ext_since,
            "ext_until": ext_until, "analysis_id": analysis_id, **rule_params(rules)}


def run_steps(con: duckdb.DuckDBPyConnection, steps: tuple[str, ...], params: dict) -> None:
    for name in steps:
        queries.run(con, name, params)


def store_analysis(con: duckdb.DuckDBPyConnection, params: dict) -> None:
    """Step 10 (the analysis' workers and attempts, the period cleared), after the lake parts it
    replaces are no longer read (store.release_attribution_parts: nothing in a store without any)."""
    release_attribution_parts(con, params)
    run_steps(con, STORE_ANALYSIS_STEPS, params)


def status_counts(con: duckdb.DuckDBPyConnection) -> dict:
    """The period's requests in _attr by attribution status (a Spark task's, or the whole)."""
    counts = dict(queries.cursor(con, "analyze/attribution_counts").fetchall())
    return {s: int(counts.get(s, 0)) for s in ("attributed", "ambiguous", "unattributed")}


def finish(con: duckdb.DuckDBPyConnection, counts: dict | None = None) -> dict:
    """Drop the correlation's scratch tables (its steps' `creates:`; what the detections read, their
    `hands on:`, stays); counts of the period's requests by attribution status (`counts` when the
    caller has them: the Spark engine sums its tasks', and never counts _attr itself)."""
    queries.drop(con, [t for name in queries.names("correlate") for t in queries.header(name).creates])
    return status_counts(con) if counts is None else counts


def correlate(con: duckdb.DuckDBPyConnection, imap: IdentityMap, *, since: datetime | None,
              until: datetime | None, analysis_id: str, progress=None) -> dict:
    """Build the _attempts/_requests/_attr temp tables and store the period's attributions.
    Returns counts by attribution status."""
    params = prepare(con, imap, since=since, until=until, analysis_id=analysis_id)
    run_steps(con, ATTEMPT_STEPS + REQUEST_STEPS + ATTRIBUTE_STEPS, params)
    store_analysis(con, params)
    run_steps(con, STORE_ROW_STEPS, params)
    return finish(con)
