-- The batch's task-log files, in its commit.
-- reads: airflow_log_files, _af_files
INSERT INTO airflow_log_files SELECT file_id, log_key, log_file, sha256, fmt, n_lines FROM _af_files;
