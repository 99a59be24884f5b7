-- The Spark engine's global step: the narrow attribution rows its tasks wrote (each task ran
-- correlate/11_store_attribution_rows over its partitions), appended to the store after
-- correlate/10_store_attributions cleared the period and wrote the analysis' workers and attempts.
-- reads: attribution_rows
INSERT INTO attribution_rows BY NAME SELECT * FROM read_parquet($parts, hive_partitioning = false);
