-- The Spark engine: a finding rule's stage table ({table}, a name the rule's file creates in its
-- setup or row stage, queries.stages) from the Parquet parts that hold it: the driver's setup
-- table in a job 2 task, the union of the tasks' row-stage parts on the driver.
-- reads: -
CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet($parts, hive_partitioning = false);
