-- Where Airflow sent each attempt: its executor and queue (metadata DB, REST API, CSV dump).
ALTER TABLE task_attempt_sources ADD COLUMN IF NOT EXISTS executor VARCHAR;
ALTER TABLE task_attempt_sources ADD COLUMN IF NOT EXISTS queue VARCHAR;
ALTER TABLE task_attempts ADD COLUMN IF NOT EXISTS executor VARCHAR;
ALTER TABLE task_attempts ADD COLUMN IF NOT EXISTS queue VARCHAR;
