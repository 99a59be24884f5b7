-- Step 3: each request finds its segment with an ASOF join (sort-merge: no n x m). A segment
-- with one running attempt decides at once (login_ok / host_ok say whether that attempt may
-- carry the request's login and whether its log named the request's host). segstat: per segment,
-- how many attempts run in it and the least of them (most segments have one: no narrowing needed).
-- reads: _requests, _bounds, _segments, _attempt_logins, _attempt_hosts
-- creates: _asof
CREATE OR REPLACE TEMP TABLE _asof AS
WITH segstat AS (
    SELECT b.pk, b.t, b.k, count(s.aidx) AS n, min(s.aidx) AS a
    FROM _bounds b LEFT JOIN _segments s ON s.pk = b.pk AND s.k = b.k
    GROUP BY b.pk, b.t, b.k
)
SELECT r.rn, r.pk, coalesce(r.lidx, 0) AS lidx0, coalesce(r.hidx, 0) AS hidx0,
       b.k AS seg, CAST(coalesce(b.n, 0) AS INTEGER) AS n, b.a,
       b.n = 1 AND al.aidx IS NOT NULL AS login_ok,
       b.n = 1 AND ah.aidx IS NOT NULL AS host_ok
FROM (SELECT rowid AS rn, pk, event_time, lidx, hidx FROM _requests) r
ASOF LEFT JOIN segstat b ON b.pk = r.pk AND r.event_time >= b.t
LEFT JOIN _attempt_logins al ON b.n = 1 AND al.aidx = b.a AND al.lidx = r.lidx
LEFT JOIN _attempt_hosts ah ON b.n = 1 AND ah.aidx = b.a AND ah.hidx = r.hidx;
