-- A batch of task logs is parsed on its worker's cursor into TEMP copies of the store's tables it
-- fills (made empty per batch): the store is not touched before the batch's turn to commit.
-- {catalog}: the store's catalog, so the copy reads the store's table, not an earlier temp one.
-- reads: rejects, task_connections, task_egress_hints, task_attempt_sources
-- hands on: rejects, task_connections, task_egress_hints, task_attempt_sources
CREATE OR REPLACE TEMP TABLE rejects AS SELECT * FROM {catalog}.main.rejects LIMIT 0;
CREATE OR REPLACE TEMP TABLE task_connections AS SELECT * FROM {catalog}.main.task_connections LIMIT 0;
CREATE OR REPLACE TEMP TABLE task_egress_hints AS SELECT * FROM {catalog}.main.task_egress_hints LIMIT 0;
CREATE OR REPLACE TEMP TABLE task_attempt_sources AS SELECT * FROM {catalog}.main.task_attempt_sources LIMIT 0;
