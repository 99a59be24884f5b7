-- The global settings of a DuckDB instance a store may change (ingest caps, analysis memory and
-- optimizers, a Spark task's threads, the spill folder): read when the instance is made, put back
-- before it is kept for the next store of the process. Each column is named as its setting.
-- reads: -
SELECT current_setting('memory_limit') AS memory_limit, current_setting('threads') AS threads,
       current_setting('preserve_insertion_order') AS preserve_insertion_order,
       current_setting('checkpoint_threshold') AS checkpoint_threshold,
       current_setting('TimeZone') AS "TimeZone", current_setting('temp_directory') AS temp_directory,
       current_setting('disabled_optimizers') AS disabled_optimizers;
