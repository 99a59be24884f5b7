-- Rebuild task_attempts for the touched attempts (_af_touched) from every source's observation.
-- Host and times: metadata DB > REST API > CSV dump > log > scheduler stdout.
-- State: a state the log states ("Marking task as ...") > scheduler stdout final_state >
-- metadata DB > REST API > CSV > state inferred from the log; non-terminal states (running,
-- queued, ...) and `unknown` only when nothing better exists.
-- reads: _af_touched, task_attempt_sources, airflow_ti_events, task_attempts
DELETE FROM task_attempts WHERE attempt_id IN (SELECT attempt_id FROM _af_touched);
INSERT INTO task_attempts (attempt_id, dag_id, run_id, task_id, map_index, try_number, ti_id, hostname,
    start_time, end_time, state, return_code, operator, max_tries, airflow_version, log_file, log_sha256,
    host_source, times_source, state_source, sources, executor, queue)
WITH obs AS (
    SELECT s.* FROM task_attempt_sources s
    WHERE s.attempt_id IN (SELECT attempt_id FROM _af_touched)
),
tis AS (
    SELECT attempt_id, min(ti_id) AS ti_id FROM obs WHERE ti_id IS NOT NULL GROUP BY attempt_id
),
ev AS (
    SELECT t.attempt_id, 'scheduler_stdout' AS source, e.hostname,
           CASE WHEN e.event = 'task_started' THEN e.event_time END AS start_time,
           CASE WHEN e.event = 'workload_finished' THEN e.event_time END AS end_time,
           e.state, e.state IS NOT NULL AS state_explicit, e.return_code
    FROM airflow_ti_events e JOIN tis t ON e.ti_id = t.ti_id
),
cand AS (
    SELECT attempt_id, source, hostname, start_time, end_time, state, state_explicit, return_code FROM obs
    UNION ALL
    SELECT attempt_id, source, hostname, start_time, end_time, state, state_explicit, return_code FROM ev
),
ranked AS (
    SELECT *,
           CASE source WHEN 'metadata_db' THEN 1 WHEN 'rest_api' THEN 2 WHEN 'csv' THEN 3 WHEN 'log' THEN 4 ELSE 5 END AS src_rank,
           CASE WHEN state IS NULL OR state = '' THEN NULL
                WHEN state = 'unknown' THEN 9
                WHEN state IN ('running', 'queued', 'scheduled', 'restarting', 'none', 'removed') THEN 8
                WHEN source = 'log' AND state_explicit THEN 0
                WHEN source = 'scheduler_stdout' THEN 1
                WHEN source = 'metadata_db' THEN 2
                WHEN source = 'rest_api' THEN 3
                WHEN source = 'csv' THEN 4
                ELSE 5 END AS state_rank,
           CASE source WHEN 'log' THEN 1 WHEN 'scheduler_stdout' THEN 2 ELSE 3 END AS rc_rank
    FROM cand
),
merged AS (
    SELECT attempt_id,
           -- each choice: the best-ranked source, then the value and the source themselves, so
           -- two observations of one rank (two scheduler events, two exports) pick the same row
           -- whatever order they arrive in
           arg_min(hostname, (src_rank, hostname, source)) FILTER (WHERE coalesce(hostname, '') <> '') AS hostname,
           arg_min(source, (src_rank, hostname, source)) FILTER (WHERE coalesce(hostname, '') <> '') AS host_source,
           arg_min(start_time, (src_rank, start_time, source)) FILTER (WHERE start_time IS NOT NULL) AS start_time,
           arg_max(end_time, (-src_rank, end_time, source)) FILTER (WHERE end_time IS NOT NULL) AS end_time,
           coalesce(arg_min(source, (src_rank, start_time, source)) FILTER (WHERE start_time IS NOT NULL),
                    arg_max(source, (-src_rank, end_time, source)) FILTER (WHERE end_time IS NOT NULL)) AS times_source,
           arg_min(state, (state_rank, state, source)) FILTER (WHERE state_rank IS NOT NULL) AS state,
           arg_min(source, (state_rank, state, source)) FILTER (WHERE state_rank IS NOT NULL) AS state_source,
           arg_min(return_code, (rc_rank, return_code)) FILTER (WHERE return_code IS NOT NULL) AS return_code,
           -- (source is never NULL) sorted and distinct without a DISTINCT aggregate: that one
           -- costs two more hash aggregates and a join, ~1 ms each whatever the rows
           list_sort(list_distinct(list(source))) AS sources
    FROM ranked GROUP BY attempt_id
),
ident AS (
    SELECT attempt_id,
           any_value(dag_id) AS dag_id, any_value(run_id) AS run_id, any_value(task_id) AS task_id,
           any_value(map_index) AS map_index, any_value(try_number) AS try_number,
           min(ti_id) AS ti_id,
           arg_min(operator, (CASE source WHEN 'metadata_db' THEN 1 WHEN 'rest_api' THEN 2 WHEN 'csv' THEN 3 WHEN 'log' THEN 4 ELSE 5 END, operator))
               FILTER (WHERE operator IS NOT NULL) AS operator,
           arg_min(max_tries, (CASE source WHEN 'metadata_db' THEN 1 WHEN 'rest_api' THEN 2 WHEN 'csv' THEN 3 WHEN 'log' THEN 4 ELSE 5 END, max_tries))
               FILTER (WHERE max_tries IS NOT NULL) AS max_tries,
           coalesce(min(airflow_version) FILTER (WHERE source = 'log'),
                    min(airflow_version) FILTER (WHERE airflow_version IS NOT NULL)) AS airflow_version,
           min(log_file) FILTER (WHERE source = 'log') AS log_file,
           arg_min(log_sha256, log_file) FILTER (WHERE source = 'log') AS log_sha256,
           arg_min(executor, (CASE source WHEN 'metadata_db' THEN 1 WHEN 'rest_api' THEN 2 ELSE 3 END, executor))
               FILTER (WHERE executor IS NOT NULL) AS executor,
           arg_min(queue, (CASE source WHEN 'metadata_db' THEN 1 WHEN 'rest_api' THEN 2 ELSE 3 END, queue))
               FILTER (WHERE queue IS NOT NULL) AS queue
    FROM obs GROUP BY attempt_id
)
SELECT i.attempt_id, i.dag_id, i.run_id, i.task_id, i.map_index, i.try_number, i.ti_id, m.hostname,
       m.start_time, m.end_time, m.state, m.return_code, i.operator, i.max_tries, i.airflow_version,
       i.log_file, i.log_sha256, m.host_source, m.times_source, m.state_source, m.sources, i.executor, i.queue
FROM ident i JOIN merged m USING (attempt_id);
