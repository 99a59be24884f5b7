-- The period's attributions as narrow rows (schema 7), after 10_store_attributions cleared the
-- period: the worker and attempt as references (im_workers' widx, _attempts' aidx), the method as
-- a code; ambiguous requests list their candidates (at most 10: 09_attribute). Per request: the
-- Spark engine runs it in each task over the task's partitions (zsaudit/spark/analyze.py).
-- reads: attribution_rows, _attr
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
