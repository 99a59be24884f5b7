-- Step 3: each request finds its segment with an ASOF join (sort-merge, no n x m), then the
-- attempts running in it, each marked by whether it may carry the request's login and whether
-- its log named the request's host. A request with none gets one row with a NULL attempt.
CREATE OR REPLACE TEMP TABLE _candidates AS
SELECT r.rn, s.aidx,
       al.aidx IS NOT NULL AS login_ok,
       ah.aidx IS NOT NULL AS host_ok
FROM (SELECT rowid AS rn, pk, event_time, lidx, hidx FROM _requests) r
ASOF LEFT JOIN _bounds b ON b.pk = r.pk AND r.event_time >= b.t
LEFT JOIN _segments s ON s.pk = b.pk AND s.k = b.k
LEFT JOIN _attempt_logins al ON al.aidx = s.aidx AND al.lidx = r.lidx
LEFT JOIN _attempt_hosts ah ON ah.aidx = s.aidx AND ah.hidx = r.hidx;
