-- Task-instance rows of any metadata source (_af_ti_raw, all text) -> checked attempts (_af_tiv).
-- Airflow records an earlier try that was retried as `failed` in task_instance_history; the
-- attempt ended up_for_retry (as a 2.x log says), so a failed try with a later try becomes
-- up_for_retry. Parameter: $tz for naive times (Airflow stores UTC).
-- reads: _af_ti_raw
-- hands on: _af_tiv
CREATE OR REPLACE TEMP TABLE _af_tiv AS
WITH r AS (
    SELECT row_no,
           nullif(trim(dag_id), '') AS dag_id, nullif(trim(run_id), '') AS run_id,
           nullif(trim(task_id), '') AS task_id,
           coalesce(try_cast(nullif(trim(map_index), '') AS INTEGER), -1) AS map_index,
           try_cast(nullif(trim(try_number), '') AS INTEGER) AS try_number,
           af_ti_id(ti_id) AS ti_id, nullif(trim(hostname), '') AS hostname,
           af_ts(start_date, $tz) AS start_time, af_ts(end_date, $tz) AS end_time,
           lower(nullif(nullif(trim(state), ''), 'None')) AS state,
           nullif(trim(operator), '') AS operator,
           try_cast(nullif(trim(max_tries), '') AS INTEGER) AS max_tries,
           nullif(trim(executor), '') AS executor, nullif(trim(queue), '') AS queue,
           coalesce(is_history, false) AS is_history,
           concat_ws(',', dag_id, run_id, task_id, map_index, try_number, hostname, start_date, end_date, state) AS raw,
           CASE
               WHEN nullif(trim(dag_id), '') IS NULL OR nullif(trim(run_id), '') IS NULL
                    OR nullif(trim(task_id), '') IS NULL
                   THEN 'missing dag_id, run_id or task_id'
               WHEN try_cast(nullif(trim(try_number), '') AS INTEGER) IS NULL
                   THEN 'try_number is not a number: ' || coalesce(try_number, 'NULL')
               WHEN try_cast(nullif(trim(try_number), '') AS INTEGER) < 1
                   THEN 'no attempt yet (try_number ' || try_number || ', state ' || coalesce(state, 'none') || ')'
               WHEN nullif(trim(map_index), '') IS NOT NULL AND try_cast(trim(map_index) AS INTEGER) IS NULL
                   THEN 'map_index is not a number: ' || map_index
           END AS reject_reason
    FROM _af_ti_raw
),
v AS (
    SELECT r.*,
           CASE WHEN reject_reason IS NULL THEN af_attempt_id(dag_id, run_id, task_id, map_index, try_number) END AS attempt_id,
           max(try_number) FILTER (WHERE reject_reason IS NULL)
               OVER (PARTITION BY dag_id, run_id, task_id, map_index) AS last_try
    FROM r
)
SELECT v.* EXCLUDE (state),
       CASE WHEN state = 'failed' AND try_number < last_try THEN 'up_for_retry' ELSE state END AS state,
       -- the same attempt twice (task_instance and a history row, or an export listing it twice)
       row_number() OVER (PARTITION BY attempt_id ORDER BY is_history, end_time DESC NULLS LAST, row_no) AS dup
FROM v;
