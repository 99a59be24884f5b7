INSERT INTO rejects (file_id, source_file, source_line, raw, reason)
SELECT f.file_id, f.log_file, a.line_no, l.raw,
       coalesce(a.reject_reason,
                'no task attempt identity: the path (template ' || f.template || ') and the log lines '
                || 'do not give dag_id, run_id, task_id and try_number')
FROM _af_la a JOIN _af_files f USING (file_idx) JOIN _af_lines l USING (file_idx, line_no)
WHERE (a.kind = 'reject' OR a.attempt_id IS NULL) AND f.keep;
