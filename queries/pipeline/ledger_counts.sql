-- A file's rows loaded and duplicates as the store's ledger holds them (the Spark engine's run
-- summary after Lake.load_into counted records other files loaded first).
-- reads: ingest_ledger
SELECT rows_loaded, coalesce(rows_duplicate, 0) FROM ingest_ledger WHERE file_id = $file_id;
