-- reads: task_connections, _af_la, _af_files
INSERT INTO task_connections (attempt_id, dag_id, run_id, task_id, map_index, try_number, event_time,
                              conn_id, log_file, source_line, rid, file_id)
SELECT a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number, a.ts,
       a.conn_id, f.log_file, a.line_no, f.rid_prefix || ':' || a.line_no, f.file_id
FROM _af_la a JOIN _af_files f USING (file_idx)
WHERE a.conn_id IS NOT NULL AND a.attempt_id IS NOT NULL AND f.keep;
