INSERT INTO airflow_ti_events (ti_id, event, event_time, hostname, state, return_code, file_id, source_file, source_line)
SELECT ti_id, kind, event_time, CASE WHEN kind = 'task_started' THEN hostname END,
       final_state, exit_code, $file_id, $path, line_no
FROM _af_stdout WHERE kind IN ('workload_finished', 'task_started') AND ti_id IS NOT NULL;
