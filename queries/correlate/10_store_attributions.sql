-- Persist the period's attributions, replacing any earlier analysis of the same period (or of
-- requests inside it): narrow rows (schema 7, migrations/007_narrow_attributions.sql) whose worker
-- and attempt are references into this analysis' attribution_workers and attribution_attempts
-- (im_workers' widx, _attempts' aidx); the view `attributions` joins them back. Ambiguous
-- requests list their candidates (at most 10: 09_attribute).
-- reads: attribution_rows, attribution_workers, attribution_attempts, _attr, _attempts, im_workers
DELETE FROM attribution_rows
WHERE analysis_id = $analysis_id OR (event_time >= $since AND event_time < $until);

DELETE FROM attribution_workers WHERE analysis_id = $analysis_id;

DELETE FROM attribution_attempts WHERE analysis_id = $analysis_id;

INSERT INTO attribution_workers (analysis_id, worker_ref, worker)
SELECT $analysis_id, widx, worker FROM im_workers;

INSERT INTO attribution_attempts (analysis_id, attempt_ref, attempt_id, dag_id, run_id, task_id, map_index, try_number)
SELECT $analysis_id, aidx, attempt_id, dag_id, run_id, task_id, map_index, try_number FROM _attempts;

-- method_code: 4 x (0 device | 1 ip | 2 login) + 1 when the login narrowed + 2 when the host did
INSERT INTO attribution_rows
    (analysis_id, request_kind, request_rid, event_time, worker_ref, login, host, attempt_ref, method_code,
     candidates, candidate_attempts)
SELECT $analysis_id, t.request_kind, t.rid, t.event_time,
       t.widx, t.login, t.host, t.aidx,
       4 * t.method
           + CASE t.via WHEN 'login' THEN 1 WHEN 'host' THEN 2 WHEN 'both' THEN 3 ELSE 0 END,
       t.candidates, t.candidate_attempts
FROM _attr t
WHERE t.in_period;
