-- Summary: how the period's requests were tied to task attempts (one row per status).
-- The analysis attributes worker traffic (a mapped worker's device or IP, or a service-account
-- login); every other request is not_worker: outside the population.
-- Coverage = attributed / (attributed + ambiguous + unattributed).
WITH counted AS (
    SELECT status, count(*) AS n
    FROM attributions
    WHERE event_time >= $since AND event_time < $until
    GROUP BY status
), requests AS (
    SELECT (SELECT count(*) FROM zia_web WHERE event_time >= $since AND event_time < $until)
         + (SELECT count(*) FROM zpa_user_activity WHERE event_time >= $since AND event_time < $until) AS n
)
SELECT status, requests FROM (
    SELECT s.ord, s.status, coalesce(c.n, 0) AS requests
    FROM (VALUES (1, 'attributed'), (2, 'ambiguous'), (3, 'unattributed')) AS s(ord, status)
    LEFT JOIN counted c USING (status)
    UNION ALL
    SELECT 4, status, n FROM counted
    WHERE status NOT IN ('attributed', 'ambiguous', 'unattributed', 'not_worker')
    UNION ALL
    SELECT 5, 'not_worker', greatest((SELECT n FROM requests) - coalesce((SELECT sum(n) FROM counted), 0), 0)
)
ORDER BY ord, status;
