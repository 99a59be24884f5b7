-- Completeness totals over the same files as ledger_files.sql, per source kind.
WITH stored AS (
    SELECT file_id, count(*) AS n FROM (
        SELECT file_id FROM zia_web UNION ALL SELECT file_id FROM zia_firewall
        UNION ALL SELECT file_id FROM zia_dns UNION ALL SELECT file_id FROM zpa_user_activity
        UNION ALL SELECT file_id FROM zpa_user_status
    ) GROUP BY file_id
), rejected AS (
    SELECT file_id, count(*) AS n FROM rejects GROUP BY file_id
), files AS (
    SELECT l.*,
           CASE WHEN l.source_kind IN ('zia_web', 'zia_firewall', 'zia_dns', 'zpa_user_activity', 'zpa_user_status')
                THEN coalesce(s.n, 0) END AS rows_in_store,
           coalesce(r.n, 0) AS rejects_in_store
    FROM ingest_ledger l
    LEFT JOIN stored s ON s.file_id = l.file_id
    LEFT JOIN rejected r ON r.file_id = l.file_id
    WHERE (l.first_event < $until AND l.last_event >= $since) OR l.first_event IS NULL
)
SELECT source_kind,
       count(*) AS files,
       sum(lines_read) AS lines_read,
       sum(rows_loaded) AS rows_loaded,
       sum(rows_rejected) AS rows_rejected,
       count(*) FILTER (WHERE lines_read <> rows_loaded + rows_rejected) AS not_adding_up,
       count(*) FILTER (WHERE (rows_in_store IS NOT NULL AND rows_in_store <> rows_loaded)
                           OR rejects_in_store <> rows_rejected) AS store_mismatch,
       count(*) FILTER (WHERE field_drift IS NOT NULL) AS drifted,
       min(first_event) AS first_event,
       max(last_event) AS last_event
FROM files
GROUP BY source_kind
ORDER BY source_kind;
