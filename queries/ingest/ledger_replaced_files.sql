-- Earlier ledger entries of the same path and kind with other content: the file changed since, and
-- its rows replace theirs.
-- reads: ingest_ledger
SELECT file_id FROM ingest_ledger WHERE path = $path AND source_kind = $source_kind AND file_id <> $file_id;
