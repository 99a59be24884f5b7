-- The first and last event time of a unit's parts of one Zscaler table (from the Parquet footers).
-- reads: -
SELECT min(event_time), max(event_time) FROM read_parquet($parts, union_by_name = true, hive_partitioning = false);
