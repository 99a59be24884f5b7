-- Job 1 of the Spark engine: the requests of this task's chunk per partition key.
-- reads: _requests
SELECT pk, count(*) FROM _requests GROUP BY pk ORDER BY pk;
