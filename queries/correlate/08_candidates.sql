-- Step 3: each request finds its segment with an ASOF join (sort-merge, no n x m), then the
-- attempts running in that segment. A request with none gets one row with a NULL attempt.
CREATE OR REPLACE TEMP TABLE _candidates AS
SELECT r.request_table, r.rid, s.attempt_id
FROM _requests r
ASOF LEFT JOIN _bounds b ON b.pk = r.pk AND r.event_time >= b.t
LEFT JOIN _segments s ON s.pk = b.pk AND s.k = b.k;
