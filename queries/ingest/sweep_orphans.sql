-- Rows of a Zscaler file that has no ledger row are what an interrupted chunked load left behind
-- (a file over 150k records commits in chunks; its ledger row is written last). Remove them
-- before anything reads the tables, so a killed ingest is never half visible.
-- reads: zia_web, ingest_ledger, zia_firewall, zia_dns, zpa_user_activity, zpa_user_status, rejects, zpa_browser_access, zpa_connector_status
DELETE FROM zia_web           WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger);
DELETE FROM zia_firewall      WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger);
DELETE FROM zia_dns           WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger);
DELETE FROM zpa_user_activity WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger);
DELETE FROM zpa_user_status   WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger);
DELETE FROM zpa_browser_access WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger);
DELETE FROM zpa_connector_status WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger);
DELETE FROM rejects           WHERE file_id NOT IN (SELECT file_id FROM ingest_ledger);
