-- Earlier versions of the batch's files: a grown (or otherwise changed) copy of an attempt's log
-- (same log_key, another file_id) replaces the earlier one (replace_files.sql).
-- reads: airflow_log_files, _af_files
SELECT o.file_id, f.file_idx FROM airflow_log_files o JOIN _af_files f
ON o.log_key = f.log_key AND o.file_id <> f.file_id;
