-- In a batch's commit: the attempts it touched (_af_touched, for merge_attempts.sql), then its
-- staged rows (stage_tables.sql) into the store's tables ({catalog}: the store's catalog), the
-- staging copies dropped so that from here on the names mean the store's tables again.
-- reads: rejects, task_connections, task_egress_hints, task_attempt_sources
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
