-- Step 4: narrow the running attempts by the login their DAG/connections may carry, then by the
-- hosts their log named; a narrowing that would leave nothing is skipped. _attr is _requests
-- plus the outcome: status, attempt, method, confidence, candidates.
CREATE OR REPLACE TEMP TABLE _attr AS
WITH g AS (
    SELECT rn,
           count(aidx) AS n_all, count(aidx) FILTER (WHERE login_ok) AS n_login,
           count(aidx) FILTER (WHERE host_ok) AS n_host, count(aidx) FILTER (WHERE login_ok AND host_ok) AS n_both,
           min(aidx) AS a_all, min(aidx) FILTER (WHERE login_ok) AS a_login,
           min(aidx) FILTER (WHERE host_ok) AS a_host, min(aidx) FILTER (WHERE login_ok AND host_ok) AS a_both
    FROM _candidates GROUP BY rn
), chosen AS (
    SELECT rn,
           CASE WHEN n_both > 0 THEN 'both' WHEN n_login > 0 THEN 'login' WHEN n_host > 0 THEN 'host' ELSE 'all' END AS via,
           CASE WHEN n_both > 0 THEN n_both WHEN n_login > 0 THEN n_login WHEN n_host > 0 THEN n_host ELSE n_all END AS n,
           CASE WHEN n_both > 0 THEN a_both WHEN n_login > 0 THEN a_login WHEN n_host > 0 THEN a_host ELSE a_all END AS a
    FROM g
)
SELECT r.rowid AS rn, r.*,
       CASE ch.n WHEN 0 THEN 'unattributed' WHEN 1 THEN 'attributed' ELSE 'ambiguous' END AS status,
       CASE WHEN ch.n = 1 THEN ch.a END AS aidx,
       CAST(ch.n AS INTEGER) AS candidates,
       ch.via,
       r.method || CASE WHEN ch.via IN ('both', 'login') THEN '+login' ELSE '' END
                || CASE WHEN ch.via IN ('both', 'host') THEN '+host' ELSE '' END AS how,
       CASE WHEN ch.n = 0 THEN 0.0 ELSE
           round((CASE r.method WHEN 'device' THEN 0.95 WHEN 'ip' THEN 0.85 ELSE 0.6 END)
                 * (CASE WHEN ch.via IN ('both', 'login') THEN 1.0 ELSE 0.9 END)
                 * (CASE WHEN ch.via IN ('both', 'host') THEN 1.0 ELSE 0.95 END)
                 / ch.n, 3) END AS confidence
FROM _requests r
JOIN chosen ch ON ch.rn = r.rowid;
