-- A file whose load is about to commit rows before its ledger row (ledger.begin_inflight()).
-- reads: ingest_inflight
INSERT OR REPLACE INTO ingest_inflight VALUES ($file_id, $source_kind, $path, $started_at);
