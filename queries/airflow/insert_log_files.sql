-- The batch's task-log files (after their lines: airflow/insert_log_rows.sql).
-- reads: _af_files, airflow_log_files
INSERT INTO airflow_log_files SELECT file_id, log_key, log_file, sha256, fmt, n_lines FROM _af_files;
