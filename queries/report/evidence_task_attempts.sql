-- evidence/task_attempts: every Airflow task attempt started in the period.
SELECT attempt_id, dag_id, run_id, task_id, map_index, try_number, hostname, start_time, end_time,
       state, return_code, operator, max_tries, airflow_version, coalesce(pp.shown, t.log_file) AS log_file, log_sha256,
       host_source, times_source, state_source
FROM task_attempts t
LEFT JOIN _pack_paths pp ON pp.path = t.log_file
WHERE start_time >= $since AND start_time < $until
ORDER BY start_time, dag_id, run_id, task_id, map_index, try_number, attempt_id;
