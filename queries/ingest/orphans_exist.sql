-- Whether any row or reject has a file with no ledger row (what sweep_orphans.sql deletes; the
-- same tables). One statement, read before every Zscaler ingest: the eight DELETEs, each bound
-- and planned, cost twice as much on a store that has none, which is every store but one left
-- by a killed chunked load from before schema 4 (ledger.sweep_orphans).
-- reads: zia_web, ingest_ledger, zia_firewall, zia_dns, zpa_user_activity, zpa_user_status, rejects, zpa_browser_access, zpa_connector_status
SELECT count(*) FROM (
    (SELECT 1 FROM zia_web            WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger) LIMIT 1)
    UNION ALL (SELECT 1 FROM zia_firewall       WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger) LIMIT 1)
    UNION ALL (SELECT 1 FROM zia_dns            WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger) LIMIT 1)
    UNION ALL (SELECT 1 FROM zpa_user_activity  WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger) LIMIT 1)
    UNION ALL (SELECT 1 FROM zpa_user_status    WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger) LIMIT 1)
    UNION ALL (SELECT 1 FROM zpa_browser_access WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger) LIMIT 1)
    UNION ALL (SELECT 1 FROM zpa_connector_status WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger) LIMIT 1)
    UNION ALL (SELECT 1 FROM rejects            WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger) LIMIT 1)
);
