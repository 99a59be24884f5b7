-- A file's load committed its ledger row: it is no longer in flight (see sweep_inflight.sql).
-- reads: ingest_inflight
DELETE FROM ingest_inflight WHERE file_id = $file_id;
