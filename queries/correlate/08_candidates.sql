-- Step 3: each request finds its segment with an ASOF join (sort-merge: no n x m). A segment
-- with one running attempt decides at once; _attr is the request plus that outcome. `via` says
-- which narrowing applied: both (login and logged host), login, host, or all.
CREATE OR REPLACE TEMP TABLE _attr AS
SELECT r.rowid AS rn, r.*,
       b.k AS seg,
       CAST(coalesce(b.n, 0) AS INTEGER) AS candidates,
       CASE coalesce(b.n, 0) WHEN 0 THEN 'unattributed' WHEN 1 THEN 'attributed' ELSE 'ambiguous' END AS status,
       CASE WHEN b.n = 1 THEN b.a END AS aidx,
       CASE WHEN b.n = 1 AND al.aidx IS NOT NULL AND ah.aidx IS NOT NULL THEN 'both'
            WHEN b.n = 1 AND al.aidx IS NOT NULL THEN 'login'
            WHEN b.n = 1 AND ah.aidx IS NOT NULL THEN 'host'
            ELSE 'all' END AS via
FROM _requests r
ASOF LEFT JOIN _segstat b ON b.pk = r.pk AND r.event_time >= b.t
LEFT JOIN _attempt_logins al ON b.n = 1 AND al.aidx = b.a AND al.lidx = r.lidx
LEFT JOIN _attempt_hosts ah ON b.n = 1 AND ah.aidx = b.a AND ah.hidx = r.hidx;

DROP TABLE IF EXISTS _requests;

-- Requests in segments where several attempts run: every candidate, marked by whether it may
-- carry the request's login and whether its log named the request's host.
CREATE OR REPLACE TEMP TABLE _candidates AS
SELECT m.rn, s.aidx,
       al.aidx IS NOT NULL AS login_ok,
       ah.aidx IS NOT NULL AS host_ok
FROM (SELECT rn, pk, seg, lidx, hidx FROM _attr WHERE candidates > 1) m
JOIN _segments s ON s.pk = m.pk AND s.k = m.seg
LEFT JOIN _attempt_logins al ON al.aidx = s.aidx AND al.lidx = m.lidx
LEFT JOIN _attempt_hosts ah ON ah.aidx = s.aidx AND ah.hidx = m.hidx;
