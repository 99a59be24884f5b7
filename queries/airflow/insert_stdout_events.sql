-- reads: airflow_ti_events, _af_stdout, _af_touched, task_attempt_sources
INSERT INTO airflow_ti_events (ti_id, event, event_time, hostname, state, return_code, file_id, source_file, source_line)
SELECT ti_id, kind, event_time, CASE WHEN kind = 'task_started' THEN hostname END,
       final_state, exit_code, $file_id, $path, line_no
FROM _af_stdout WHERE kind IN ('workload_finished', 'task_started') AND ti_id IS NOT NULL;
INSERT INTO _af_touched SELECT DISTINCT s.attempt_id FROM task_attempt_sources s
JOIN _af_stdout e ON s.ti_id = e.ti_id WHERE e.ti_id IS NOT NULL;
