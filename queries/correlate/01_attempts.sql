-- Task attempts in scope (their window, widened by clock_skew, overlaps the analysis period),
-- each tied to an identity-map worker by its Airflow hostname (exact, then short name).
-- An attempt with no end time ends at its last log line, else at its start.
-- aidx is a compact integer key used by the joins below.
-- reads: im_worker_names, airflow_log_lines, task_attempts, im_workers
-- hands on: _attempts
CREATE OR REPLACE TEMP TABLE _attempts AS
WITH names AS (
    SELECT name, min(widx) AS widx FROM im_worker_names GROUP BY name
), last_line AS (
    SELECT l.attempt_id, max(l.event_time) AS last_time
    FROM airflow_log_lines l
    WHERE l.attempt_id IN (SELECT attempt_id FROM task_attempts WHERE end_time IS NULL)
    GROUP BY l.attempt_id
), a AS (
    SELECT t.attempt_id, t.dag_id, t.run_id, t.task_id, t.map_index, t.try_number,
           lower(t.state) AS state, t.hostname, t.start_time,
           greatest(coalesce(t.end_time, ll.last_time, t.start_time), t.start_time) AS end_time
    FROM task_attempts t
    LEFT JOIN last_line ll USING (attempt_id)
    WHERE t.start_time IS NOT NULL
      AND greatest(coalesce(t.end_time, ll.last_time, t.start_time), t.start_time) + $skew >= $since
      AND t.start_time - $skew < $until
    -- one row per attempt: the latest start, then a total order over the columns used below
    QUALIFY row_number() OVER (PARTITION BY t.attempt_id ORDER BY t.start_time DESC, t.end_time DESC NULLS LAST,
                                                                  t.hostname NULLS LAST, t.state NULLS LAST) = 1
)
SELECT a.*,
       CAST(row_number() OVER (ORDER BY a.attempt_id) AS INTEGER) AS aidx,
       coalesce(n1.widx, n2.widx) AS widx,
       w.worker,
       a.start_time - $skew AS lo,
       a.end_time + $skew AS hi
FROM a
LEFT JOIN names n1 ON n1.name = lower(a.hostname)
LEFT JOIN names n2 ON n2.name = split_part(lower(a.hostname), '.', 1)
LEFT JOIN im_workers w ON w.widx = coalesce(n1.widx, n2.widx);
