-- Requests per UTC hour of the period: evidence/attributed_requests is written in time slices of
-- about a million rows, each sorted on its own (so no sort ever spills), in time order.
SELECT h, sum(n) AS n FROM (
    SELECT date_trunc('hour', event_time) AS h, count(*) AS n FROM zia_web
    WHERE event_time >= $since AND event_time < $until GROUP BY 1
    UNION ALL
    SELECT date_trunc('hour', event_time), count(*) FROM zpa_user_activity
    WHERE event_time >= $since AND event_time < $until GROUP BY 1
)
GROUP BY h
ORDER BY h;
