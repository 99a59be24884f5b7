-- The Spark engine's global step: the attributions its executors computed, one part per group of
-- partition keys (queries/correlate/05..09 ran there), as the _attr table correlate/10 and the
-- finding rules read. rn is renumbered: each part numbered its own requests from 1.
-- reads: -
-- hands on: _attr
CREATE OR REPLACE TEMP TABLE _attr AS
SELECT * REPLACE (CAST(row_number() OVER (ORDER BY request_kind, rid) AS BIGINT) AS rn)
FROM read_parquet($parts, hive_partitioning = false);
