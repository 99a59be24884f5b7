-- Files whose chunked load committed rows but no ledger row yet (killed loads, swept on open).
-- reads: ingest_inflight
SELECT count(*) FROM ingest_inflight;
