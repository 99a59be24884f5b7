-- Schema 8 (issue 17): attribution rows that stay in the Spark engine's lake (docs/schema.md).
--
-- On the Spark engine each job 2 task writes its partitions' narrow rows as one Parquet part;
-- appending them to attribution_rows was the driver's largest per-request write. The parts stay in
-- the lake instead, under <lake>/attribution_rows/analysis=<id>/, and the store names them:
-- attribution_parts, one row per part (the lake's root apart, so a moved lake is one UPDATE away).
-- attribution_lake_rows reads them: the Spark engine re-creates it, with the parts' paths written
-- in (a table function takes no subquery), whenever attribution_parts changes; without parts it
-- is this empty view, so a single-machine store reads exactly what it read before.
CREATE TABLE attribution_parts (
    analysis_id  VARCHAR NOT NULL,
    lake         VARCHAR NOT NULL,         -- the lake's root when the part was named
    part         VARCHAR NOT NULL          -- the part's path below it
);

CREATE VIEW attribution_lake_rows AS
SELECT analysis_id, request_kind, request_rid, event_time, worker_ref, login, host, attempt_ref, method_code,
       candidates, candidate_attempts
FROM attribution_rows WHERE false;

-- The contract's relation as in schema 7, over the stored rows and the lake's.
CREATE OR REPLACE VIEW attributions AS
SELECT CASE r.request_kind WHEN 0 THEN 'zia_web' ELSE 'zpa_user_activity' END AS request_table,
       r.request_rid, r.event_time, w.worker, r.login, r.host,
       a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number,
       CASE WHEN r.candidates = 0 THEN 'unattributed' WHEN r.candidates = 1 THEN 'attributed'
            ELSE 'ambiguous' END AS status,
       CASE r.method_code // 4 WHEN 0 THEN 'device' WHEN 1 THEN 'ip' WHEN 2 THEN 'login' END
           || CASE WHEN r.method_code % 2 = 1 THEN '+login' ELSE '' END
           || CASE WHEN r.method_code % 4 >= 2 THEN '+host' ELSE '' END AS method,
       CAST(CASE WHEN r.candidates = 0 THEN 0.0 WHEN r.method_code IS NULL THEN NULL ELSE
           round((CASE r.method_code // 4 WHEN 0 THEN 0.95 WHEN 1 THEN 0.85 ELSE 0.6 END)
                 * (CASE WHEN r.method_code % 2 = 1 THEN 1.0 ELSE 0.9 END)
                 * (CASE WHEN r.method_code % 4 >= 2 THEN 1.0 ELSE 0.95 END)
                 / r.candidates, 3) END AS DOUBLE) AS confidence,
       r.candidates, r.candidate_attempts, r.analysis_id
FROM (SELECT analysis_id, request_kind, request_rid, event_time, worker_ref, login, host, attempt_ref, method_code,
             candidates, candidate_attempts FROM attribution_rows
      UNION ALL
      SELECT analysis_id, request_kind, request_rid, event_time, worker_ref, login, host, attempt_ref, method_code,
             candidates, candidate_attempts FROM attribution_lake_rows) r
LEFT JOIN attribution_workers w ON w.analysis_id = r.analysis_id AND w.worker_ref = r.worker_ref
LEFT JOIN attribution_attempts a ON a.analysis_id = r.analysis_id AND a.attempt_ref = r.attempt_ref;
