-- Step 4: narrow the running attempts by the login their DAG/connections may carry, then by the
-- hosts their log named; a narrowing that would leave nothing is skipped. One row per request.
CREATE OR REPLACE TEMP TABLE _attr AS
WITH c AS (
    SELECT c.request_table, c.rid, c.attempt_id,
           al.attempt_id IS NOT NULL AS login_ok,
           ah.attempt_id IS NOT NULL AS host_ok
    FROM _candidates c
    JOIN _requests r ON r.request_table = c.request_table AND r.rid = c.rid
    LEFT JOIN _attempt_logins al ON al.attempt_id = c.attempt_id AND al.login = r.login_l
    LEFT JOIN _attempt_hosts ah ON ah.attempt_id = c.attempt_id AND ah.host = r.host
), g AS (
    SELECT request_table, rid,
           list(attempt_id ORDER BY attempt_id) FILTER (WHERE attempt_id IS NOT NULL) AS l_all,
           list(attempt_id ORDER BY attempt_id) FILTER (WHERE login_ok) AS l_login,
           list(attempt_id ORDER BY attempt_id) FILTER (WHERE host_ok) AS l_host,
           list(attempt_id ORDER BY attempt_id) FILTER (WHERE login_ok AND host_ok) AS l_both
    FROM c GROUP BY request_table, rid
), chosen AS (
    SELECT request_table, rid,
           CASE WHEN len(l_both) > 0 THEN l_both WHEN len(l_login) > 0 THEN l_login
                WHEN len(l_host) > 0 THEN l_host ELSE coalesce(l_all, []) END AS picked,
           len(l_login) > 0 AS by_login,
           (len(l_both) > 0 OR (len(l_login) = 0 AND len(l_host) > 0)) AS by_host
    FROM g
)
SELECT r.request_table, r.rid, r.event_time, r.worker, r.login, r.login_l, r.host, r.pk, r.in_period,
       CASE len(ch.picked) WHEN 0 THEN 'unattributed' WHEN 1 THEN 'attributed' ELSE 'ambiguous' END AS status,
       CASE WHEN len(ch.picked) = 1 THEN ch.picked[1] END AS attempt_id,
       len(ch.picked) AS candidates,
       CASE WHEN len(ch.picked) > 1 THEN ch.picked[1:10] END AS candidate_attempts,
       r.method || CASE WHEN ch.by_login THEN '+login' ELSE '' END
                || CASE WHEN ch.by_host THEN '+host' ELSE '' END AS method,
       CASE WHEN len(ch.picked) = 0 THEN 0.0 ELSE
           round((CASE r.method WHEN 'device' THEN 0.95 WHEN 'ip' THEN 0.85 ELSE 0.6 END)
                 * (CASE WHEN ch.by_login THEN 1.0 ELSE 0.9 END)
                 * (CASE WHEN ch.by_host THEN 1.0 ELSE 0.95 END)
                 / len(ch.picked), 3) END AS confidence
FROM _requests r
JOIN chosen ch ON ch.request_table = r.request_table AND ch.rid = r.rid;
