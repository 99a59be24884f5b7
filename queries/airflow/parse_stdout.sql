-- Scheduler / API-server stdout (console or JSON structlog lines, 2.x classic lines) -> events.
-- 3.x: "Workload finished ... exit_code=N final_state=S ... workload_id=<ti_id>" (scheduler) and
--      "Task started ... hostname=H ... ti_id=<ti_id>" (API server).
-- 2.x: "TaskInstance Finished: dag_id=D, task_id=T, run_id=R, map_index=M, run_start_date=...,
--      run_end_date=..., ..., state=S, ..., try_number=N, max_tries=K, ..., operator=O, ..."
-- reads: _af_stdout_arrow
-- hands on: _af_stdout
CREATE OR REPLACE TEMP TABLE _af_stdout AS
WITH l AS (
    SELECT line_no, regexp_replace(raw, '\x1b\[[0-9;?]*[ -/]*[@-~]', '', 'g') AS line FROM _af_stdout_arrow
),
k AS (
    SELECT line_no, line,
           CASE WHEN line LIKE '%Workload finished%' AND line LIKE '%workload_id%' THEN 'workload_finished'
                WHEN line LIKE '%Task started%' AND line LIKE '%ti_id%' THEN 'task_started'
                WHEN line LIKE '%TaskInstance Finished: %' THEN 'ti_finished' END AS kind
    FROM l
)
SELECT line_no, kind,
       coalesce(
           nullif(regexp_extract(line, '"timestamp"\s*:\s*"([^"]+)"', 1), ''),
           nullif(regexp_extract(line, '^\[([^\]]+)\]', 1), ''),
           nullif(regexp_extract(line, '^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)', 1), '')
       ) AS ts_text,
       af_ts(coalesce(
           nullif(regexp_extract(line, '"timestamp"\s*:\s*"([^"]+)"', 1), ''),
           nullif(regexp_extract(line, '^\[([^\]]+)\]', 1), ''),
           nullif(regexp_extract(line, '^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)', 1), '')), $tz) AS event_time,
       af_ti_id(nullif(regexp_extract(line,
           CASE kind WHEN 'workload_finished' THEN 'workload_id"?\s*[=:]\s*"?([0-9a-fA-F-]{32,36})'
                     ELSE 'ti_id"?\s*[=:]\s*"?([0-9a-fA-F-]{32,36})' END, 1), '')) AS ti_id,
       nullif(regexp_extract(line, 'hostname"?\s*[=:]\s*"?([^\s",]+)', 1), '') AS hostname,
       lower(nullif(regexp_extract(line, 'final_state"?\s*[=:]\s*"?([A-Za-z_]+)', 1), '')) AS final_state,
       try_cast(nullif(regexp_extract(line, 'exit_code"?\s*[=:]\s*"?(-?\d+)', 1), '') AS INTEGER) AS exit_code,
       -- 2.x TaskInstance Finished fields
       nullif(regexp_extract(line, 'TaskInstance Finished: dag_id=([^,]+),', 1), '') AS dag_id,
       nullif(regexp_extract(line, ', task_id=([^,]+),', 1), '') AS task_id,
       nullif(regexp_extract(line, ', run_id=([^,]+),', 1), '') AS run_id,
       nullif(regexp_extract(line, ', map_index=(-?\d+)', 1), '') AS map_index,
       nullif(regexp_extract(line, ', run_start_date=([^,]+),', 1), '') AS start_date,
       nullif(regexp_extract(line, ', run_end_date=([^,]+),', 1), '') AS end_date,
       nullif(regexp_extract(line, ', state=([a-z_]+)', 1), '') AS state,
       nullif(regexp_extract(line, ', try_number=(\d+)', 1), '') AS try_number,
       nullif(regexp_extract(line, ', max_tries=(\d+)', 1), '') AS max_tries,
       nullif(regexp_extract(line, ', operator=([^,]+)', 1), '') AS operator
FROM k WHERE kind IS NOT NULL;
