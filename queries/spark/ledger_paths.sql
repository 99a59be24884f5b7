-- The path each file of the store's ledger was loaded from (Lake.load_into: is a unit the copy of
-- a file the store holds under another path?).
-- reads: ingest_ledger
SELECT file_id, path FROM ingest_ledger ORDER BY file_id;
