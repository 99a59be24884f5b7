-- Job 2 of the Spark engine: the requests of this task's partitions, as step 04 wrote them
-- (zsaudit/spark/analyze.py), for steps 05..09.
-- reads: -
-- hands on: _requests
CREATE OR REPLACE TEMP TABLE _requests AS
SELECT * FROM read_parquet($parts, hive_partitioning = false);
