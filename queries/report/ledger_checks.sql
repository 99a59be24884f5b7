-- Completeness and accuracy, per input file whose events overlap the period (or that held none):
-- lines read must equal rows loaded + rows rejected + duplicates (records already loaded, not
-- loaded again), and the store must hold exactly the rows
-- and rejects the ledger claims. One temp table that ledger_files.sql and ledger_totals.sql read.
CREATE OR REPLACE TEMP TABLE _ledger_checks AS
WITH stored AS (
    SELECT file_id, count(*) AS n FROM (
        SELECT file_id FROM zia_web UNION ALL SELECT file_id FROM zia_firewall
        UNION ALL SELECT file_id FROM zia_dns UNION ALL SELECT file_id FROM zpa_user_activity
        UNION ALL SELECT file_id FROM zpa_user_status UNION ALL SELECT file_id FROM zpa_browser_access
        UNION ALL SELECT file_id FROM zpa_connector_status
    ) GROUP BY file_id
), rejected AS (
    SELECT file_id, count(*) AS n FROM rejects GROUP BY file_id
)
SELECT l.* REPLACE (coalesce(pp.shown, l.path) AS path),
       l.lines_read = l.rows_loaded + l.rows_rejected + coalesce(l.rows_duplicate, 0) AS adds_up,
       CASE WHEN l.source_kind IN ('zia_web', 'zia_firewall', 'zia_dns', 'zpa_user_activity', 'zpa_user_status',
                                   'zpa_browser_access', 'zpa_connector_status')
            THEN coalesce(s.n, 0) END AS rows_in_store,
       coalesce(r.n, 0) AS rejects_in_store
FROM ingest_ledger l
LEFT JOIN stored s ON s.file_id = l.file_id
LEFT JOIN rejected r ON r.file_id = l.file_id
LEFT JOIN _pack_paths pp ON pp.path = l.path
WHERE (l.first_event < $until AND l.last_event >= $since) OR l.first_event IS NULL;
