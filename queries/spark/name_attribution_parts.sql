-- The Spark engine's global step: the lake parts that hold this analysis' attribution rows (its job
-- 2 tasks' row parts, moved under <lake>/attribution_rows/analysis=<id>/), named in the store so
-- that the view attribution_lake_rows reads them (store.name_attribution_parts).
-- reads: attribution_parts
INSERT INTO attribution_parts (analysis_id, lake, part)
SELECT $analysis_id, $lake, unnest($parts);
