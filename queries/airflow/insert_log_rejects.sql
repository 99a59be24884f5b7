-- raw keeps the line's first 4096 characters (zsaudit/ingest/limits.py REJECT_KEEP_CHARS), with
-- the whole line's length in bytes and its sha256 (queries/migrations/002_rejects_bounded_raw.sql);
-- a line over a cap comes with them (its raw is already cut: airflow_logs._with_caps)
-- reads: rejects, _af_la, _af_files, _af_lines
INSERT INTO rejects (file_id, source_file, source_line, raw, reason, raw_bytes, raw_sha256)
SELECT f.file_id, f.log_file, a.line_no, left(l.raw, 4096),
       coalesce(a.reject_reason,
                'no task attempt identity: the path (template ' || f.template || ') and the log lines '
                || 'do not give dag_id, run_id, task_id and try_number'),
       coalesce(l.raw_bytes, octet_length(encode(l.raw))), coalesce(l.raw_sha256, sha256(l.raw))
FROM _af_la a JOIN _af_files f USING (file_idx) JOIN _af_lines l USING (file_idx, line_no)
WHERE (a.kind = 'reject' OR a.attempt_id IS NULL) AND f.keep;
