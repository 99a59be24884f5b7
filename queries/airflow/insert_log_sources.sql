-- reads: task_attempt_sources, _af_att, _af_files
INSERT INTO task_attempt_sources (attempt_id, source, file_id, dag_id, run_id, task_id, map_index, try_number,
    ti_id, hostname, start_time, end_time, state, state_explicit, return_code, operator, max_tries,
    airflow_version, log_file, log_sha256)
SELECT t.attempt_id, 'log', f.file_id, t.dag_id, t.run_id, t.task_id, t.map_index, t.try_number,
       t.ti_id, t.hostname, t.start_time, t.end_time,
       CASE WHEN t.mark IS NOT NULL THEN t.mark
            WHEN NOT t.any_json AND t.return_code IS NOT NULL THEN CASE WHEN t.return_code = 0 THEN 'success' ELSE 'failed' END
            WHEN t.any_json AND t.post_execute AND t.had_error THEN 'failed'
            WHEN t.any_json AND t.post_execute THEN 'success'
            WHEN t.any_json AND t.had_error AND t.return_code IS NOT NULL THEN 'failed'
            ELSE 'unknown' END,
       t.mark IS NOT NULL,
       t.return_code, t.operator, t.max_tries,
       CASE WHEN t.any_json THEN '3' ELSE '2' END, f.log_file, f.sha256
FROM _af_att t JOIN _af_files f USING (file_idx)
WHERE f.keep;
