-- Which of these files (by file_id) the ledger has already: skipped.
-- reads: ingest_ledger, _af_ids
SELECT file_id FROM ingest_ledger WHERE file_id IN (SELECT file_id FROM _af_ids);
