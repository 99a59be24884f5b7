-- Completeness and accuracy, per input file whose events overlap the period (or that held none):
-- lines read must equal rows loaded + rows rejected, and the store must hold exactly the rows
-- and rejects the ledger claims. Files with a problem come first; top $limit rows.
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
           l.lines_read = l.rows_loaded + l.rows_rejected AS adds_up,
           CASE WHEN l.source_kind IN ('zia_web', 'zia_firewall', 'zia_dns', 'zpa_user_activity', 'zpa_user_status')
                THEN coalesce(s.n, 0) END AS rows_in_store,
           coalesce(r.n, 0) AS rejects_in_store
    FROM ingest_ledger l
    LEFT JOIN stored s ON s.file_id = l.file_id
    LEFT JOIN rejected r ON r.file_id = l.file_id
    WHERE (l.first_event < $until AND l.last_event >= $since) OR l.first_event IS NULL
)
SELECT path, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected, adds_up,
       rows_in_store, rejects_in_store, first_event, last_event, status, field_drift,
       NOT adds_up OR (rows_in_store IS NOT NULL AND rows_in_store <> rows_loaded)
           OR rejects_in_store <> rows_rejected AS mismatch
FROM files
ORDER BY mismatch DESC, rows_rejected > 0 DESC, field_drift IS NOT NULL DESC, source_kind, path, sha256
LIMIT $limit;
