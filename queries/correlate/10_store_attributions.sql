-- Persist the period's attributions, replacing any earlier analysis of the same period (or of
-- requests inside it): this analysis' attribution_workers and attribution_attempts (im_workers'
-- widx, _attempts' aidx: what the narrow rows of 11_store_attribution_rows refer to, schema 7,
-- migrations/007_narrow_attributions.sql); the view `attributions` joins them back. Once per
-- analysis: the Spark engine runs it on the driver and 11 in its tasks.
-- reads: attribution_rows, attribution_workers, attribution_attempts, _attempts, im_workers
DELETE FROM attribution_rows
WHERE analysis_id = $analysis_id OR (event_time >= $since AND event_time < $until);

DELETE FROM attribution_workers WHERE analysis_id = $analysis_id;

DELETE FROM attribution_attempts WHERE analysis_id = $analysis_id;

INSERT INTO attribution_workers (analysis_id, worker_ref, worker)
SELECT $analysis_id, widx, worker FROM im_workers;

INSERT INTO attribution_attempts (analysis_id, attempt_ref, attempt_id, dag_id, run_id, task_id, map_index, try_number)
SELECT $analysis_id, aidx, attempt_id, dag_id, run_id, task_id, map_index, try_number FROM _attempts;
