-- What each task-log file says about each attempt it holds (usually one).
-- State: a 2.x "Marking task as X" line states it; otherwise it is inferred: 2.x return code,
-- 3.x error record / "::group::Post Execute" (the end of the run); no end seen -> unknown.
-- reads: _af_la
-- hands on: _af_att
CREATE OR REPLACE TEMP TABLE _af_att AS
SELECT a.file_idx, a.attempt_id,
       any_value(a.dag_id) AS dag_id, any_value(a.run_id) AS run_id, any_value(a.task_id) AS task_id,
       any_value(a.map_index) AS map_index, any_value(a.try_number) AS try_number,
       min(a.j_ti_id) AS ti_id,  -- a task log names one task instance
       arg_min(a.host, a.line_no) FILTER (WHERE a.host IS NOT NULL) AS hostname,
       min(a.ts) AS start_time, max(a.ts) AS end_time,
       arg_max(a.mark, a.line_no) FILTER (WHERE a.mark IS NOT NULL) AS mark,
       arg_max(a.exit_rc, a.line_no) FILTER (WHERE a.exit_rc IS NOT NULL) AS return_code,
       bool_or(a.is_error) AS had_error,
       bool_or(a.post_execute) AS post_execute,
       bool_or(a.is_json) AS any_json,
       coalesce(arg_min(a.op_stated, a.line_no) FILTER (WHERE a.op_stated IS NOT NULL),
                arg_min(a.op_logger, a.line_no) FILTER (WHERE a.op_logger IS NOT NULL)) AS operator,
       arg_max(a.max_tries, a.line_no) FILTER (WHERE a.max_tries IS NOT NULL) AS max_tries
FROM _af_la a
WHERE a.attempt_id IS NOT NULL AND a.kind <> 'reject'
GROUP BY a.file_idx, a.attempt_id;
