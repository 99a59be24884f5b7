INSERT INTO task_attempt_sources (attempt_id, source, file_id, dag_id, run_id, task_id, map_index, try_number,
    ti_id, hostname, start_time, end_time, state, state_explicit, return_code, operator, max_tries,
    airflow_version, log_file, log_sha256, executor, queue)
SELECT attempt_id, $source, $file_id, dag_id, run_id, task_id, map_index, try_number, ti_id, hostname,
       start_time, end_time, state, state IS NOT NULL, NULL, operator, max_tries,
       CASE WHEN ti_id IS NOT NULL THEN '3' END, NULL, NULL, executor, queue
FROM _af_tiv WHERE reject_reason IS NULL AND dup = 1;
