-- Per file of the batch: lines kept, lines rejected, first and last event time, and lines that
-- name a connection (airflow_logs._run_line_sql leaves out the inserts that would find none:
-- `rejected` and `connections` count insert_log_rejects' and insert_log_connections' rows).
-- reads: _af_la
SELECT file_idx,
       count(*) FILTER (WHERE kind <> 'reject' AND attempt_id IS NOT NULL) AS loaded,
       count(*) FILTER (WHERE kind = 'reject' OR attempt_id IS NULL) AS rejected,
       min(ts), max(ts),
       count(*) FILTER (WHERE conn_id IS NOT NULL AND attempt_id IS NOT NULL) AS connections
FROM _af_la GROUP BY file_idx;
