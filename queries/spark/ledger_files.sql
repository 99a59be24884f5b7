-- The files a (scratch) store's ledger holds: file id and content hash.
-- reads: ingest_ledger
SELECT file_id, sha256 FROM ingest_ledger ORDER BY file_id;
