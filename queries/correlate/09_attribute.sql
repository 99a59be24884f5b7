-- Step 4: narrow the candidates by the login their DAG/connections may carry, then by the hosts
-- their log named; a narrowing that would leave nothing is skipped.
CREATE OR REPLACE TEMP TABLE _narrowed AS
WITH g AS (
    SELECT rn,
           count(aidx) AS n_all, count(aidx) FILTER (WHERE login_ok) AS n_login,
           count(aidx) FILTER (WHERE host_ok) AS n_host, count(aidx) FILTER (WHERE login_ok AND host_ok) AS n_both,
           min(aidx) AS a_all, min(aidx) FILTER (WHERE login_ok) AS a_login,
           min(aidx) FILTER (WHERE host_ok) AS a_host, min(aidx) FILTER (WHERE login_ok AND host_ok) AS a_both
    FROM _candidates GROUP BY rn
)
SELECT rn,
       CASE WHEN n_both > 0 THEN 'both' WHEN n_login > 0 THEN 'login' WHEN n_host > 0 THEN 'host' ELSE 'all' END AS via,
       CASE WHEN n_both > 0 THEN n_both WHEN n_login > 0 THEN n_login WHEN n_host > 0 THEN n_host ELSE n_all END AS n,
       CASE WHEN n_both > 0 THEN a_both WHEN n_login > 0 THEN a_login WHEN n_host > 0 THEN a_host ELSE a_all END AS a
FROM g;

UPDATE _attr SET
    via = n.via,
    candidates = CAST(n.n AS INTEGER),
    status = CASE WHEN n.n = 1 THEN 'attributed' ELSE 'ambiguous' END,
    aidx = CASE WHEN n.n = 1 THEN n.a END
FROM _narrowed n
WHERE _attr.rn = n.rn;
