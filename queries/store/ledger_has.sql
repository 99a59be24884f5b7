-- Whether this content (sha256) is ingested already; a refused file is tried again.
-- reads: ingest_ledger
SELECT count(*) FROM ingest_ledger WHERE sha256 = $sha256 AND status <> 'refused';
