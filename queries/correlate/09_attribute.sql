-- Step 4: where several attempts run, narrow them by the login their DAG/connections may carry,
-- then by the hosts their log named; a narrowing that would leave nothing is skipped. The result
-- depends only on (segment, login, host), so it is computed once per distinct combination.
-- reads: _asof, _segments, _attempt_logins, _attempt_hosts, _requests
-- creates: _choice
-- hands on: _attr
CREATE OR REPLACE TEMP TABLE _choice AS
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
)
SELECT pk, seg, lidx0, hidx0,
       CASE WHEN len(l_both) > 0 THEN 'both' WHEN len(l_login) > 0 THEN 'login'
            WHEN len(l_host) > 0 THEN 'host' ELSE 'all' END AS via,
       CASE WHEN len(l_both) > 0 THEN l_both WHEN len(l_login) > 0 THEN l_login
            WHEN len(l_host) > 0 THEN l_host ELSE l_all END AS picked
FROM g;

-- _attr: the request plus its outcome: status, aidx, candidates, via.
CREATE OR REPLACE TEMP TABLE _attr AS
SELECT q.rn, r.*, q.seg,
       CAST(CASE WHEN q.n > 1 THEN len(ch.picked) ELSE q.n END AS INTEGER) AS candidates,
       CASE WHEN q.n = 0 THEN 'unattributed'
            WHEN q.n = 1 OR len(ch.picked) = 1 THEN 'attributed' ELSE 'ambiguous' END AS status,
       CASE WHEN q.n = 1 THEN q.a WHEN len(ch.picked) = 1 THEN ch.picked[1] END AS aidx,
       CASE WHEN q.n > 1 THEN ch.via
            WHEN q.login_ok AND q.host_ok THEN 'both' WHEN q.login_ok THEN 'login'
            WHEN q.host_ok THEN 'host' ELSE 'all' END AS via,
       CASE WHEN len(ch.picked) > 1 THEN ch.picked[1:10] END AS candidate_aidx
FROM _requests r
JOIN _asof q ON q.rn = r.rowid
LEFT JOIN _choice ch ON q.n > 1 AND ch.pk = q.pk AND ch.seg = q.seg AND ch.lidx0 = q.lidx0 AND ch.hidx0 = q.hidx0;

DROP TABLE IF EXISTS _requests;
DROP TABLE IF EXISTS _asof;
