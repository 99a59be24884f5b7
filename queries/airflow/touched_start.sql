-- The attempts a load touches, merged into task_attempts at its end (airflow/merge_attempts.sql).
-- reads: -
-- hands on: _af_touched
CREATE OR REPLACE TEMP TABLE _af_touched (attempt_id VARCHAR);
