-- The files of a unit's ledger parts, with the path each was read from (Lake.load_into).
-- reads: -
SELECT file_id, path FROM read_parquet($parts, hive_partitioning = false) ORDER BY file_id;
