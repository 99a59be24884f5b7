-- The file ids of a unit's ledger parts (Lake.load_into: is the unit in the store yet?).
-- reads: -
SELECT file_id FROM read_parquet($parts, hive_partitioning = false);
