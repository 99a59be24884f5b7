-- A staged batch of task logs enters the store (inside its transaction): the attempts it touches,
-- then each TEMP copy (airflow/stage_tables.sql) appended to the store's table and dropped, so
-- that from here on the names mean the store's tables; then its lines and its files.
-- reads: task_attempt_sources, rejects, task_connections, task_egress_hints, _af_files
-- hands on: _af_touched
CREATE OR REPLACE TEMP TABLE _af_touched AS SELECT DISTINCT attempt_id FROM temp.main.task_attempt_sources;
INSERT INTO {catalog}.main.rejects BY NAME SELECT * FROM temp.main.rejects;
DROP TABLE temp.main.rejects;
INSERT INTO {catalog}.main.task_connections BY NAME SELECT * FROM temp.main.task_connections;
DROP TABLE temp.main.task_connections;
INSERT INTO {catalog}.main.task_egress_hints BY NAME SELECT * FROM temp.main.task_egress_hints;
DROP TABLE temp.main.task_egress_hints;
INSERT INTO {catalog}.main.task_attempt_sources BY NAME SELECT * FROM temp.main.task_attempt_sources;
DROP TABLE temp.main.task_attempt_sources;
