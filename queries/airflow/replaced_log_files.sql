-- Earlier copies of the batch's logs (same attempt, other content): a grown or otherwise changed
-- copy of an attempt's log replaces the earlier one.
-- reads: airflow_log_files, _af_files
SELECT o.file_id, f.file_idx FROM airflow_log_files o JOIN _af_files f
ON o.log_key = f.log_key AND o.file_id <> f.file_id;
