-- Every input file path of the store with its source kind: zsaudit.report.paths derives the
-- source roots from them (one per source family, named once in the pack).
SELECT DISTINCT source_kind, path FROM ingest_ledger ORDER BY source_kind, path;
