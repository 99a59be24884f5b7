-- Assign each parsed line to its task attempt and pull out the facts lines state.
-- Identity: key=value path segments first; Airflow 3 lines that carry their own bound identity
-- (dag_id, run_id, task_id, try_number) belong to that attempt even when interleaved in
-- another attempt's file; 2.x lines take the file's identity (path, else AIRFLOW_CTX / Running lines).
-- reads: _af_parsed, _af_files
-- hands on: _af_la
CREATE OR REPLACE TEMP TABLE _af_la AS
WITH facts AS MATERIALIZED (
    SELECT p.*,
           CASE WHEN p.is_record AND p.message LIKE 'Running <TaskInstance:%' THEN
                regexp_extract(p.message, '^Running <TaskInstance: \S+ (\S+)(?: map_index=(-?\d+))? \[[^\]]*\]> on host (\S+)',
                               ['run_id', 'map_index', 'host']) END AS running,
           CASE WHEN p.is_record AND NOT p.is_json AND (p.message LIKE 'Exporting env vars%' OR p.message LIKE 'AIRFLOW_CTX_DAG_RUN_ID=%') THEN
                nullif(regexp_extract(p.message, 'AIRFLOW_CTX_DAG_RUN_ID=[''"]?([^''"\s]+)', 1), '') END AS ctx_run_id,
           CASE WHEN p.is_record AND p.message LIKE 'Starting attempt %' THEN
                regexp_extract(p.message, '^Starting attempt (\d+) of (\d+)', ['n', 'm']) END AS starting
    FROM _af_parsed p
),
content AS (
    SELECT file_idx,
           min(j_dag_id) AS c_dag_id, min(j_run_id) AS c_run_id, min(j_task_id) AS c_task_id,
           min(j_map_index) AS c_map_index, min(j_try_number) AS c_try_number,
           min(ctx_run_id) AS ctx_run_id,
           min(nullif(running.run_id, '')) AS running_run_id,
           min(try_cast(nullif(running.map_index, '') AS INTEGER)) AS running_map_index,
           min(try_cast(nullif(starting.n, '') AS INTEGER)) AS starting_try
    FROM facts GROUP BY file_idx
),
ident AS (
    SELECT f.file_idx,
           coalesce(f.p_dag_id, c.c_dag_id) AS dag_id,
           coalesce(f.p_run_id, c.c_run_id, c.ctx_run_id, c.running_run_id, f.p_ts) AS run_id,
           coalesce(f.p_task_id, c.c_task_id) AS task_id,
           coalesce(f.p_map_index, c.running_map_index, c.c_map_index, -1) AS map_index,
           coalesce(f.p_try_number, c.c_try_number, c.starting_try) AS try_number
    FROM _af_files f LEFT JOIN content c USING (file_idx)
),
ident_id AS (
    SELECT *, af_attempt_id(dag_id, run_id, task_id, map_index, try_number) AS attempt_id FROM ident
),
assigned AS (
    SELECT x.*,
           (x.j_dag_id IS NOT NULL AND x.j_run_id IS NOT NULL AND x.j_task_id IS NOT NULL
            AND x.j_try_number IS NOT NULL) AS own_identity,
           i.dag_id AS f_dag_id, i.run_id AS f_run_id, i.task_id AS f_task_id,
           i.map_index AS f_map_index, i.try_number AS f_try_number, i.attempt_id AS f_attempt_id
    FROM facts x JOIN ident_id i USING (file_idx)
)
-- only the columns later steps read (memory: this table holds every line of the batch)
SELECT a.file_idx, a.line_no, a.is_json, a.kind, a.reject_reason, a.ts, a.level, a.source, a.message, a.detail,
       a.j_ti_id,
       CASE WHEN own_identity THEN j_dag_id ELSE f_dag_id END AS dag_id,
       CASE WHEN own_identity THEN j_run_id ELSE f_run_id END AS run_id,
       CASE WHEN own_identity THEN j_task_id ELSE f_task_id END AS task_id,
       CASE WHEN own_identity THEN coalesce(j_map_index, -1) ELSE f_map_index END AS map_index,
       CASE WHEN own_identity THEN j_try_number ELSE f_try_number END AS try_number,
       CASE WHEN NOT own_identity
                 OR (j_dag_id = f_dag_id AND j_run_id = f_run_id AND j_task_id = f_task_id
                     AND coalesce(j_map_index, -1) = f_map_index AND j_try_number = f_try_number)
                THEN f_attempt_id   -- NULL when the file's identity is incomplete
            ELSE af_attempt_id(j_dag_id, j_run_id, j_task_id, coalesce(j_map_index, -1), j_try_number)
       END AS attempt_id,
       CASE WHEN kind = 'record' AND message LIKE 'Marking task as %' THEN
                lower(nullif(regexp_extract(message, '^Marking task as ([A-Z_]+)', 1), ''))
            WHEN kind = 'record' AND message LIKE 'Pausing task as DEFERRED%' THEN 'deferred' END AS mark,
       CASE WHEN kind = 'record' AND message LIKE 'Task exited with return code %' THEN
                try_cast(regexp_extract(message, 'return code (-?\d+)', 1) AS INTEGER)
            WHEN is_json AND j_exit_code IS NOT NULL THEN j_exit_code END AS exit_rc,
       CASE WHEN running IS NOT NULL THEN nullif(running.host, '')
            WHEN ti_repr IS NOT NULL THEN nullif(regexp_extract(ti_repr, 'hostname=''([^'']*)''', 1), '') END AS host,
       CASE WHEN starting IS NOT NULL THEN try_cast(nullif(starting.m, '') AS INTEGER) - 1
            WHEN ti_repr IS NOT NULL THEN try_cast(nullif(regexp_extract(ti_repr, 'max_tries=(\d+)', 1), '') AS INTEGER) END AS max_tries,
       CASE WHEN kind = 'record' AND message LIKE 'Executing <%' THEN
                nullif(regexp_extract(message, '^Executing <(?:Task|Mapped)\(([^)]+)\)', 1), '')
            WHEN ti_repr IS NOT NULL THEN nullif(regexp_extract(ti_repr, 'task=<(?:Task|Mapped)\(([^)]+)\)', 1), '') END AS op_stated,
       CASE WHEN is_json AND source LIKE 'airflow.task.operators.%' THEN
                nullif(regexp_extract(source, '\.([A-Za-z_][A-Za-z0-9_]*)$', 1), '') END AS op_logger,
       is_json AND level IN ('ERROR', 'CRITICAL') AND (message = 'Task failed with exception'
           OR (source = 'supervisor' AND (message LIKE 'Process exited abnormally%' OR message LIKE 'Task killed%'
                                          OR message LIKE 'Process terminated by signal%'))) AS is_error,
       is_json AND message LIKE '::group::Post Execute%' AS post_execute,
       CASE WHEN kind = 'record' AND (message LIKE 'Retrieving connection %' OR message LIKE 'Using connection %'
                                      OR message LIKE 'Connection Retrieved %') THEN
                nullif(coalesce(
                    nullif(regexp_extract(message, '(?:Retrieving connection|Using connection ID|Connection Retrieved) ''([^'']+)''', 1), ''),
                    nullif(regexp_extract(message, '^Using connection to: id: ([^\s.]+)\.', 1), '')), '') END AS conn_id
FROM assigned a;
