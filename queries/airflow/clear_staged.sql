-- Discard what a batch staged (stage_tables.sql), e.g. what the probes for a failing line left.
-- reads: rejects, task_connections, task_egress_hints, task_attempt_sources
DELETE FROM temp.main.rejects;
DELETE FROM temp.main.task_connections;
DELETE FROM temp.main.task_egress_hints;
DELETE FROM temp.main.task_attempt_sources;
