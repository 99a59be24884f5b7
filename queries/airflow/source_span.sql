-- First and last time a loaded source file observed, for its ledger row.
-- reads: task_attempt_sources
SELECT min(start_time), max(end_time) FROM task_attempt_sources WHERE file_id = $file_id;
