-- A unit's records not loaded (Lake.load_into): its ledger row counts them as duplicates, as on one
-- machine (rows_loaded + rows_duplicate unchanged).
-- reads: lake_duplicates, ingest_ledger
UPDATE ingest_ledger
SET rows_loaded = rows_loaded - d.n, rows_duplicate = coalesce(rows_duplicate, 0) + d.n
FROM (SELECT count(*) AS n FROM lake_duplicates WHERE unit = $unit AND rid IS NOT NULL) d
WHERE ingest_ledger.file_id = $file_id AND d.n > 0;
