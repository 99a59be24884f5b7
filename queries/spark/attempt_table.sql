-- The Spark engine: a table of the attempt side ({table}: what correlate's steps 01..03 hand on or
-- create, queries/correlate/) as the driver computed it once before job 1, read by every task
-- from its Parquet file: the tasks' attempt and host ids are the driver's own.
-- reads: -
CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet($parts, hive_partitioning = false);
