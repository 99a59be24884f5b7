-- Lines, connections and attempt observations of a parsed batch (one statement each; run in order).
-- reads: airflow_log_lines, _af_la, _af_files
INSERT INTO airflow_log_lines (attempt_id, log_file, source_line, event_time, level, source, message,
                               continuation, detail, rid, file_id)
SELECT a.attempt_id, f.log_file, a.line_no, a.ts, a.level, a.source, a.message,
       a.kind = 'continuation', a.detail, f.rid_prefix || ':' || a.line_no, f.file_id
FROM _af_la a JOIN _af_files f USING (file_idx)
WHERE a.kind <> 'reject' AND a.attempt_id IS NOT NULL AND f.keep;
