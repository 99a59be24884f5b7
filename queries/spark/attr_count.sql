-- Job 2 of the Spark engine: the attributions this task wrote.
-- reads: _attr
SELECT count(*) FROM _attr;
