-- The lake's attribution rows (schema 8, migrations/008_attribution_parts.sql): the parts
-- attribution_parts names, their paths written into the view ({parts}: a view keeps no bound
-- value, a table function takes no subquery). Re-created by store.name_attribution_parts whenever
-- attribution_parts changes; the columns and types of attribution_rows.
-- reads: -
CREATE OR REPLACE VIEW attribution_lake_rows AS
SELECT CAST(analysis_id AS VARCHAR) AS analysis_id, CAST(request_kind AS UTINYINT) AS request_kind,
       CAST(request_rid AS VARCHAR) AS request_rid, CAST(event_time AS TIMESTAMPTZ) AS event_time,
       CAST(worker_ref AS INTEGER) AS worker_ref, CAST(login AS VARCHAR) AS login, CAST(host AS VARCHAR) AS host,
       CAST(attempt_ref AS INTEGER) AS attempt_ref, CAST(method_code AS UTINYINT) AS method_code,
       CAST(candidates AS INTEGER) AS candidates, CAST(candidate_attempts AS VARCHAR[]) AS candidate_attempts
FROM read_parquet({parts}, hive_partitioning = false);
