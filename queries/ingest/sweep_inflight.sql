-- Rows and rejects of Zscaler files whose load committed chunks but never its ledger row (the
-- process was killed): run on every open of the store, before anything reads the tables, so
-- `analyze` and `report` never see them. The next ingest loads such a file again from scratch.
-- reads: zia_web, ingest_inflight, zia_firewall, zia_dns, zpa_user_activity, zpa_user_status, rejects, zpa_browser_access, zpa_connector_status
DELETE FROM zia_web           WHERE file_id IN (SELECT file_id FROM ingest_inflight);
DELETE FROM zia_firewall      WHERE file_id IN (SELECT file_id FROM ingest_inflight);
DELETE FROM zia_dns           WHERE file_id IN (SELECT file_id FROM ingest_inflight);
DELETE FROM zpa_user_activity WHERE file_id IN (SELECT file_id FROM ingest_inflight);
DELETE FROM zpa_user_status   WHERE file_id IN (SELECT file_id FROM ingest_inflight);
DELETE FROM zpa_browser_access WHERE file_id IN (SELECT file_id FROM ingest_inflight);
DELETE FROM zpa_connector_status WHERE file_id IN (SELECT file_id FROM ingest_inflight);
DELETE FROM rejects           WHERE file_id IN (SELECT file_id FROM ingest_inflight);
DELETE FROM ingest_inflight;
