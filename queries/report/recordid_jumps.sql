-- Jumps in Zscaler recordid sequences (per feed table, in recordid order): records the NSS
-- feed numbered but the store never received. Largest first (top $limit).
WITH ids AS (
    SELECT 'zia_web' AS source, record_id FROM zia_web
        WHERE event_time >= $since AND event_time < $until AND record_id IS NOT NULL
    UNION ALL SELECT 'zia_firewall', record_id FROM zia_firewall
        WHERE event_time >= $since AND event_time < $until AND record_id IS NOT NULL
    UNION ALL SELECT 'zia_dns', record_id FROM zia_dns
        WHERE event_time >= $since AND event_time < $until AND record_id IS NOT NULL
), stepped AS (
    SELECT source, record_id,
           lag(record_id) OVER (PARTITION BY source ORDER BY record_id) AS previous_id
    FROM ids
), jumps AS (
    SELECT source, previous_id, record_id AS next_id, record_id - previous_id - 1 AS missing
    FROM stepped
    WHERE record_id - previous_id > 1
)
SELECT source, previous_id, next_id, missing,
       count(*) OVER () AS total_jumps, sum(missing) OVER () AS total_missing
FROM jumps
ORDER BY missing DESC, source, previous_id
LIMIT $limit;
