"""Peer: one plain DuckDB query (a range join of requests to attempt windows on the same worker,
narrowed by login, then logged host), as a team would write it by hand. See __init__.py."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from . import FAIL_ACTIONS, FAIL_MIN_CODE, IdentityMap

QUERY = """
WITH att AS (
    SELECT attempt_id, lower(hostname) AS worker, start_time - to_microseconds($skew_us) AS lo,
           end_time + to_microseconds($skew_us) AS hi, lower(state) AS state, dag_id
    FROM task_attempts WHERE start_time IS NOT NULL AND end_time IS NOT NULL
), att_login AS (
    SELECT DISTINCT a.attempt_id, l.login
    FROM (SELECT attempt_id, dag_id FROM task_attempts) a JOIN peer_dags d ON a.dag_id GLOB d.pattern
    JOIN peer_logins l ON l.sa = d.sa
    UNION
    SELECT c.attempt_id, l.login FROM task_connections c JOIN peer_conns pc ON pc.conn_id = c.conn_id
    JOIN peer_logins l ON l.sa = pc.sa
), att_host AS (
    SELECT DISTINCT attempt_id, lower(host) AS host FROM task_egress_hints WHERE host <> ''
), req AS (
    SELECT rid, event_time, lower(login) AS login, split_part(lower(device_hostname), '.', 1) AS worker,
           lower(host) AS host, list_contains($fail_actions, action) OR response_code >= $fail_min AS failed
    FROM zia_web
    WHERE event_time >= $since AND event_time < $until
      AND split_part(lower(device_hostname), '.', 1) IN (SELECT worker FROM peer_workers)
), pairs AS (
    SELECT r.rid, a.attempt_id, al.login IS NOT NULL AS login_ok, ah.host IS NOT NULL AS host_ok
    FROM req r
    JOIN att a ON a.worker = r.worker AND r.event_time >= a.lo AND r.event_time <= a.hi
    LEFT JOIN att_login al ON al.attempt_id = a.attempt_id AND al.login = r.login
    LEFT JOIN att_host ah ON ah.attempt_id = a.attempt_id AND ah.host = r.host
), levels AS (
    SELECT *, CASE WHEN count(*) OVER w = 1 THEN 0
                   WHEN bool_or(login_ok AND host_ok) OVER w THEN 3 WHEN bool_or(login_ok) OVER w THEN 2
                   WHEN bool_or(host_ok) OVER w THEN 1 ELSE 0 END AS level
    FROM pairs WINDOW w AS (PARTITION BY rid)
), picked AS (
    SELECT rid, count(*) AS n, min(attempt_id) AS attempt_id FROM levels
    WHERE level = 0 OR (level = 3 AND login_ok AND host_ok) OR (level = 2 AND login_ok) OR (level = 1 AND host_ok)
    GROUP BY rid
), attr AS (
    SELECT r.rid, r.failed,
           CASE WHEN p.n IS NULL THEN 'unattributed' WHEN p.n = 1 THEN 'attributed' ELSE 'ambiguous' END AS status,
           CASE WHEN p.n = 1 THEN p.attempt_id END AS attempt_id
    FROM req r LEFT JOIN picked p USING (rid)
)
SELECT rid, status, attempt_id, failed FROM attr
"""

SILENT = """
SELECT a.attempt_id, count(*) AS n
FROM peer_attr p JOIN task_attempts a ON a.attempt_id = p.attempt_id
WHERE p.status = 'attributed' AND p.failed AND lower(a.state) = 'success'
GROUP BY a.attempt_id
"""


def run(db: str, imap: IdentityMap, since, until) -> tuple[pa.Table, pa.Table]:
    """(rid, status, attempt_id) per in-period worker request; (attempt_id, n) silent failures."""
    con = duckdb.connect(db, read_only=True)
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("peer_workers", pa.table({"worker": imap.workers}))
        con.register("peer_logins", pa.table({"login": list(imap.logins), "sa": list(imap.logins.values())}))
        con.register("peer_dags", pa.table({"pattern": [p for p, _ in imap.dag_patterns],
                                            "sa": [s for _, s in imap.dag_patterns]}))
        con.register("peer_conns", pa.table({"conn_id": list(imap.conns), "sa": list(imap.conns.values())}))
        attr = con.sql(QUERY, params={"skew_us": int(imap.skew_s * 1e6), "since": since, "until": until,
                                   "fail_actions": list(FAIL_ACTIONS), "fail_min": FAIL_MIN_CODE}).to_arrow_table()
        con.register("peer_attr", attr)
        silent = con.sql(SILENT).to_arrow_table()
        return attr.select(["rid", "status", "attempt_id"]), silent
    finally:
        con.close()
