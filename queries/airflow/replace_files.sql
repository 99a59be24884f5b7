-- Delete every row earlier versions of files left (the Arrow table _af_old_arrow: file_id),
-- inside the caller's transaction; the attempts they fed go into _af_touched, to be merged again
-- (merge_attempts.sql).
-- reads: _af_old_arrow, _af_touched, task_attempt_sources, airflow_log_lines, task_connections, task_egress_hints, rejects, ingest_ledger, airflow_log_files, airflow_ti_events
-- creates: _af_old
CREATE OR REPLACE TEMP TABLE _af_old AS SELECT DISTINCT file_id FROM _af_old_arrow;
INSERT INTO _af_touched SELECT DISTINCT attempt_id FROM task_attempt_sources WHERE file_id IN (SELECT file_id FROM _af_old);
DELETE FROM airflow_log_lines WHERE file_id IN (SELECT file_id FROM _af_old);
DELETE FROM task_connections WHERE file_id IN (SELECT file_id FROM _af_old);
DELETE FROM task_egress_hints WHERE file_id IN (SELECT file_id FROM _af_old);
DELETE FROM task_attempt_sources WHERE file_id IN (SELECT file_id FROM _af_old);
DELETE FROM rejects WHERE file_id IN (SELECT file_id FROM _af_old);
DELETE FROM ingest_ledger WHERE file_id IN (SELECT file_id FROM _af_old);
DELETE FROM airflow_log_files WHERE file_id IN (SELECT file_id FROM _af_old);
DELETE FROM airflow_ti_events WHERE file_id IN (SELECT file_id FROM _af_old);
