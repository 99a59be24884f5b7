-- A worker's TEMP staging copies (empty, same columns) of the store tables a batch of task logs
-- fills, made on its own cursor before the batch is parsed: the batch's rows land here, outside
-- the store, until its turn to commit (publish_staged.sql). {catalog}: the store's catalog.
-- reads: rejects, task_connections, task_egress_hints, task_attempt_sources
-- hands on: rejects, task_connections, task_egress_hints, task_attempt_sources
CREATE OR REPLACE TEMP TABLE rejects AS SELECT * FROM {catalog}.main.rejects LIMIT 0;
CREATE OR REPLACE TEMP TABLE task_connections AS SELECT * FROM {catalog}.main.task_connections LIMIT 0;
CREATE OR REPLACE TEMP TABLE task_egress_hints AS SELECT * FROM {catalog}.main.task_egress_hints LIMIT 0;
CREATE OR REPLACE TEMP TABLE task_attempt_sources AS SELECT * FROM {catalog}.main.task_attempt_sources LIMIT 0;
