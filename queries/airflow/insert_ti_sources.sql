-- This source's accepted task-instance observations replace its earlier ones of the same attempts
-- (which are marked touched, to be merged again).
-- reads: _af_tiv, task_attempt_sources, _af_touched
INSERT INTO _af_touched SELECT DISTINCT attempt_id FROM _af_tiv WHERE reject_reason IS NULL;
DELETE FROM task_attempt_sources WHERE source = $source
  AND attempt_id IN (SELECT attempt_id FROM _af_tiv WHERE reject_reason IS NULL);
INSERT INTO task_attempt_sources (attempt_id, source, file_id, dag_id, run_id, task_id, map_index, try_number,
    ti_id, hostname, start_time, end_time, state, state_explicit, return_code, operator, max_tries,
    airflow_version, log_file, log_sha256, executor, queue)
SELECT attempt_id, $source, $file_id, dag_id, run_id, task_id, map_index, try_number, ti_id, hostname,
       start_time, end_time, state, state IS NOT NULL, NULL, operator, max_tries,
       CASE WHEN ti_id IS NOT NULL THEN '3' END, NULL, NULL, executor, queue
FROM _af_tiv WHERE reject_reason IS NULL AND dup = 1;
