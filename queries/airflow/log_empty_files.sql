-- A log file with no attempt lines at all (an empty attempt=N.log) still says the attempt
-- existed, when its path names it fully: state unknown.
-- reads: _af_att, _af_files
INSERT INTO _af_att (file_idx, attempt_id, dag_id, run_id, task_id, map_index, try_number, had_error,
                     post_execute, any_json)
SELECT f.file_idx,
       af_attempt_id(f.p_dag_id, coalesce(f.p_run_id, f.p_ts), f.p_task_id, coalesce(f.p_map_index, -1), f.p_try_number),
       f.p_dag_id, coalesce(f.p_run_id, f.p_ts), f.p_task_id, coalesce(f.p_map_index, -1), f.p_try_number,
       false, false, f.fmt = 'airflow3_json'
FROM _af_files f
WHERE f.p_dag_id IS NOT NULL AND coalesce(f.p_run_id, f.p_ts) IS NOT NULL AND f.p_task_id IS NOT NULL
  AND f.p_try_number IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM _af_att a WHERE a.file_idx = f.file_idx);
