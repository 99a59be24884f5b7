-- Step 4: where several attempts run, narrow them by the login their DAG/connections may carry,
-- then by the hosts their log named; a narrowing that would leave nothing is skipped. The result
-- depends only on (segment, login, host), so it is computed once per distinct combination.
-- reads: _asof, _segments, _attempt_logins, _attempt_hosts, _attempts, _requests
-- hands on: _attr
-- _attr: the request plus its outcome: status, aidx, candidates, via (the rules read it as it is:
-- no column of it is joined back in later). One statement: the choices (choice) are read once.
CREATE OR REPLACE TEMP TABLE _attr AS
WITH keys AS (
    SELECT DISTINCT pk, seg, lidx0, hidx0 FROM _asof WHERE n > 1
), c AS (
    SELECT k.pk, k.seg, k.lidx0, k.hidx0, s.aidx,
           al.aidx IS NOT NULL AS login_ok, ah.aidx IS NOT NULL AS host_ok
    FROM keys k
    JOIN _segments s ON s.pk = k.pk AND s.k = k.seg
    LEFT JOIN _attempt_logins al ON al.aidx = s.aidx AND al.lidx = k.lidx0
    LEFT JOIN _attempt_hosts ah ON ah.aidx = s.aidx AND ah.hidx = k.hidx0
), g AS (
    SELECT pk, seg, lidx0, hidx0,
           list(aidx ORDER BY aidx) AS l_all,
           list(aidx ORDER BY aidx) FILTER (WHERE login_ok) AS l_login,
           list(aidx ORDER BY aidx) FILTER (WHERE host_ok) AS l_host,
           list(aidx ORDER BY aidx) FILTER (WHERE login_ok AND host_ok) AS l_both
    FROM c GROUP BY pk, seg, lidx0, hidx0
), p AS (
    SELECT pk, seg, lidx0, hidx0,
           CASE WHEN len(l_both) > 0 THEN 'both' WHEN len(l_login) > 0 THEN 'login'
                WHEN len(l_host) > 0 THEN 'host' ELSE 'all' END AS via,
           CASE WHEN len(l_both) > 0 THEN l_both WHEN len(l_login) > 0 THEN l_login
                WHEN len(l_host) > 0 THEN l_host ELSE l_all END AS picked
    FROM g
), amb AS (   -- ambiguous: the attempt_ids of the first 10 (aidx numbers attempts in attempt_id order)
    SELECT x.pk, x.seg, x.lidx0, x.hidx0, list(a.attempt_id ORDER BY a.attempt_id) AS candidate_attempts
    FROM (SELECT pk, seg, lidx0, hidx0, unnest(picked[1:10]) AS aidx FROM p WHERE len(picked) > 1) x
    JOIN _attempts a ON a.aidx = x.aidx
    GROUP BY x.pk, x.seg, x.lidx0, x.hidx0
), choice AS (
    SELECT p.pk, p.seg, p.lidx0, p.hidx0, p.via, CAST(len(p.picked) AS INTEGER) AS picked_n,
           p.picked[1] AS picked_first, amb.candidate_attempts
    FROM p
    LEFT JOIN amb ON amb.pk = p.pk AND amb.seg = p.seg AND amb.lidx0 = p.lidx0 AND amb.hidx0 = p.hidx0
)
SELECT q.rn, r.*, q.seg,
       CASE WHEN q.n > 1 THEN ch.picked_n ELSE q.n END AS candidates,
       CASE WHEN q.n = 0 THEN 'unattributed'
            WHEN q.n = 1 OR ch.picked_n = 1 THEN 'attributed' ELSE 'ambiguous' END AS status,
       CASE WHEN q.n = 1 THEN q.a WHEN ch.picked_n = 1 THEN ch.picked_first END AS aidx,
       CASE WHEN q.n > 1 THEN ch.via
            WHEN q.login_ok AND q.host_ok THEN 'both' WHEN q.login_ok THEN 'login'
            WHEN q.host_ok THEN 'host' ELSE 'all' END AS via,
       ch.candidate_attempts
FROM _requests r
JOIN _asof q ON q.rn = r.rowid
LEFT JOIN choice ch ON q.n > 1 AND ch.pk = q.pk AND ch.seg = q.seg AND ch.lidx0 = q.lidx0 AND ch.hidx0 = q.hidx0;

DROP TABLE IF EXISTS _requests;
DROP TABLE IF EXISTS _asof;
