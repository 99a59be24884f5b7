-- Coverage gaps: runs of whole UTC hours inside the period with no event from a Zscaler source
-- that has ever delivered logs to this store. Longest first (top $limit).
WITH hours AS (
    SELECT h FROM generate_series(date_trunc('hour', $since::TIMESTAMPTZ),
                                  $until::TIMESTAMPTZ - INTERVAL 1 MICROSECOND,
                                  INTERVAL 1 HOUR) AS t(h)
), feeds AS (
    SELECT 'zia_web' AS source FROM (SELECT 1 FROM zia_web LIMIT 1)
    UNION ALL SELECT 'zia_firewall' FROM (SELECT 1 FROM zia_firewall LIMIT 1)
    UNION ALL SELECT 'zia_dns' FROM (SELECT 1 FROM zia_dns LIMIT 1)
    UNION ALL SELECT 'zpa_user_activity' FROM (SELECT 1 FROM zpa_user_activity LIMIT 1)
    UNION ALL SELECT 'zpa_user_status' FROM (SELECT 1 FROM zpa_user_status LIMIT 1)
), seen AS (
    SELECT DISTINCT source, h FROM (
        SELECT 'zia_web' AS source, date_trunc('hour', event_time) AS h FROM zia_web
            WHERE event_time >= $since AND event_time < $until
        UNION ALL SELECT 'zia_firewall', date_trunc('hour', event_time) FROM zia_firewall
            WHERE event_time >= $since AND event_time < $until
        UNION ALL SELECT 'zia_dns', date_trunc('hour', event_time) FROM zia_dns
            WHERE event_time >= $since AND event_time < $until
        UNION ALL SELECT 'zpa_user_activity', date_trunc('hour', event_time) FROM zpa_user_activity
            WHERE event_time >= $since AND event_time < $until
        UNION ALL SELECT 'zpa_user_status', date_trunc('hour', event_time) FROM zpa_user_status
            WHERE event_time >= $since AND event_time < $until
    )
), missing AS (
    SELECT f.source, hours.h
    FROM feeds f CROSS JOIN hours
    ANTI JOIN seen ON seen.source = f.source AND seen.h = hours.h
), runs AS (
    SELECT source, h,
           h - to_hours(row_number() OVER (PARTITION BY source ORDER BY h)) AS island
    FROM missing
)
SELECT source, min(h) AS gap_start, max(h) + INTERVAL 1 HOUR AS gap_end, count(*) AS hours,
       count(*) OVER () AS total_gaps, sum(count(*)) OVER () AS total_hours
FROM runs
GROUP BY source, island
ORDER BY hours DESC, source, gap_start
LIMIT $limit;
