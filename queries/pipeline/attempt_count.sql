-- How many task attempts the store holds (what `zsaudit ingest airflow` reports).
-- reads: task_attempts
SELECT count(*) FROM task_attempts;
