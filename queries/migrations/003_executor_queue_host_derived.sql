-- Where Airflow sent each attempt: its executor and queue (metadata DB, REST API, CSV dump).
ALTER TABLE task_attempt_sources ADD COLUMN IF NOT EXISTS executor VARCHAR;
ALTER TABLE task_attempt_sources ADD COLUMN IF NOT EXISTS queue VARCHAR;
ALTER TABLE task_attempts ADD COLUMN IF NOT EXISTS executor VARCHAR;
ALTER TABLE task_attempts ADD COLUMN IF NOT EXISTS queue VARCHAR;

-- Hosts taken from the URL when a web feed carries none (issue 13): a flag per row and a count
-- per file in the ledger.
ALTER TABLE zia_web ADD COLUMN IF NOT EXISTS host_derived BOOLEAN DEFAULT false;
ALTER TABLE ingest_ledger ADD COLUMN IF NOT EXISTS hosts_derived BIGINT DEFAULT 0;
