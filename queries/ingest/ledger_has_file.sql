-- Is this file (its file_id: kind and content hash) in the ingest ledger already? Then it is skipped.
-- reads: ingest_ledger
SELECT count(*) FROM ingest_ledger WHERE file_id = $file_id;
