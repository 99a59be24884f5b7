-- Which of the given task-log files (the Arrow table _af_ids) the ledger already holds.
-- reads: ingest_ledger, _af_ids
SELECT file_id FROM ingest_ledger WHERE file_id IN (SELECT file_id FROM _af_ids);
