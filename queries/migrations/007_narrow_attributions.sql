-- Schema 7 (issue 17): attributions stored narrow, `attributions` a view (docs/schema.md).
--
-- Writing one 18-column row per worker request was a third of `zsaudit analyze`: every VARCHAR
-- column costs about as much to write as the narrow row's integers together. attribution_rows
-- keeps per request only what is the request's own (its table as a code, rid, time, login, host)
-- and small integers: the worker and the attempt are references into two small per-analysis
-- tables (attribution_workers: the identity map's workers; attribution_attempts: the attempts in
-- the analysis' scope with their identity), method is a code, status follows from candidates
-- (0 unattributed, 1 attributed, more ambiguous) and confidence from method and candidates.
-- The view `attributions` gives the contract's columns, as the table did.
CREATE TABLE attribution_rows (
    analysis_id        VARCHAR NOT NULL,
    request_kind       UTINYINT NOT NULL,      -- 0 zia_web | 1 zpa_user_activity
    request_rid        VARCHAR NOT NULL,
    event_time         TIMESTAMPTZ,
    worker_ref         INTEGER,                -- attribution_workers of the same analysis
    login              VARCHAR,
    host               VARCHAR,
    attempt_ref        INTEGER,                -- attribution_attempts of the same analysis (attributed)
    method_code        UTINYINT,               -- 4 x (0 device | 1 ip | 2 login) + (1 if +login) + (2 if +host)
    candidates         INTEGER NOT NULL,       -- attempts left after narrowing
    candidate_attempts VARCHAR[]               -- their attempt_ids when ambiguous (at most 10)
);

CREATE TABLE attribution_workers (
    analysis_id  VARCHAR NOT NULL,
    worker_ref   INTEGER NOT NULL,
    worker       VARCHAR
);

CREATE TABLE attribution_attempts (
    analysis_id  VARCHAR NOT NULL,
    attempt_ref  INTEGER NOT NULL,
    attempt_id   VARCHAR,
    dag_id       VARCHAR,
    run_id       VARCHAR,
    task_id      VARCHAR,
    map_index    INTEGER,
    try_number   INTEGER
);

-- the rows of earlier analyses, moved: their status kept (candidates follow it), their method
-- as a code (a method string analyze never wrote becomes NULL), confidence recomputed from both
INSERT INTO attribution_workers
SELECT analysis_id, CAST(row_number() OVER (PARTITION BY analysis_id ORDER BY worker) AS INTEGER), worker
FROM (SELECT DISTINCT coalesce(analysis_id, '-') AS analysis_id, worker FROM attributions WHERE worker IS NOT NULL);

INSERT INTO attribution_attempts
SELECT analysis_id,
       CAST(row_number() OVER (PARTITION BY analysis_id ORDER BY attempt_id, dag_id, run_id, task_id, map_index,
                                                                try_number) AS INTEGER),
       attempt_id, dag_id, run_id, task_id, map_index, try_number
FROM (SELECT DISTINCT coalesce(analysis_id, '-') AS analysis_id, attempt_id, dag_id, run_id, task_id, map_index,
                      try_number
      FROM attributions WHERE attempt_id IS NOT NULL);

INSERT INTO attribution_rows
SELECT coalesce(t.analysis_id, '-'), CASE WHEN t.request_table = 'zpa_user_activity' THEN 1 ELSE 0 END,
       t.request_rid, t.event_time, w.worker_ref, t.login, t.host,
       CASE WHEN t.status = 'attributed' THEN a.attempt_ref END,
       CASE split_part(t.method, '+', 1) WHEN 'device' THEN 0 WHEN 'ip' THEN 4 WHEN 'login' THEN 8 END
           + CASE WHEN t.method LIKE '%+login%' THEN 1 ELSE 0 END + CASE WHEN t.method LIKE '%+host%' THEN 2 ELSE 0 END,
       CASE t.status WHEN 'unattributed' THEN 0 WHEN 'attributed' THEN 1 ELSE greatest(coalesce(t.candidates, 2), 2) END,
       t.candidate_attempts
FROM attributions t
LEFT JOIN attribution_workers w ON w.analysis_id = coalesce(t.analysis_id, '-') AND w.worker = t.worker
LEFT JOIN attribution_attempts a
       ON a.analysis_id = coalesce(t.analysis_id, '-') AND a.attempt_id = t.attempt_id
      AND a.dag_id IS NOT DISTINCT FROM t.dag_id AND a.run_id IS NOT DISTINCT FROM t.run_id
      AND a.task_id IS NOT DISTINCT FROM t.task_id AND a.map_index IS NOT DISTINCT FROM t.map_index
      AND a.try_number IS NOT DISTINCT FROM t.try_number;

DROP TABLE attributions;

-- The contract's relation: one row per worker request of an analysed period, as before schema 7.
CREATE VIEW attributions AS
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
FROM attribution_rows r
LEFT JOIN attribution_workers w ON w.analysis_id = r.analysis_id AND w.worker_ref = r.worker_ref
LEFT JOIN attribution_attempts a ON a.analysis_id = r.analysis_id AND a.attempt_ref = r.attempt_ref;
