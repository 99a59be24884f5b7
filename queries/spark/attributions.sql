-- The Spark engine's global step: the attributions its executors computed, one part per group of
-- partition keys (queries/correlate/05..09 ran there), as the _attr table the finding rules read.
-- rn is already unique: each task offset its own numbering (spark/offset_rn).
-- reads: -
-- hands on: _attr
CREATE OR REPLACE TEMP TABLE _attr AS
SELECT * FROM read_parquet($parts, hive_partitioning = false);
