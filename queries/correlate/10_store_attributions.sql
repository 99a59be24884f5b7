-- Persist the period's attributions with the attempt identity, replacing any earlier analysis
-- of the same period (or of requests inside it). Ambiguous requests list their candidates (at most 10).
-- reads: attributions, _attr, _attempts, im_workers
-- creates: _ambiguous
DELETE FROM attributions
WHERE analysis_id = $analysis_id OR (event_time >= $since AND event_time < $until);

CREATE OR REPLACE TEMP TABLE _ambiguous AS
SELECT t.rn, list(a.attempt_id ORDER BY a.attempt_id) AS candidate_attempts
FROM (SELECT rn, unnest(candidate_aidx) AS aidx FROM _attr WHERE status = 'ambiguous') t
JOIN _attempts a ON a.aidx = t.aidx
GROUP BY t.rn;

INSERT INTO attributions
    (request_table, request_rid, event_time, worker, login, host, attempt_id, dag_id, run_id, task_id,
     map_index, try_number, status, method, confidence, candidates, candidate_attempts, analysis_id)
SELECT t.request_table, t.rid, t.event_time, w.worker, t.login, t.host, a.attempt_id, a.dag_id, a.run_id,
       a.task_id, a.map_index, a.try_number, t.status,
       t.method || CASE WHEN t.via IN ('both', 'login') THEN '+login' ELSE '' END
                || CASE WHEN t.via IN ('both', 'host') THEN '+host' ELSE '' END,
       CASE WHEN t.candidates = 0 THEN 0.0 ELSE
           round((CASE t.method WHEN 'device' THEN 0.95 WHEN 'ip' THEN 0.85 ELSE 0.6 END)
                 * (CASE WHEN t.via IN ('both', 'login') THEN 1.0 ELSE 0.9 END)
                 * (CASE WHEN t.via IN ('both', 'host') THEN 1.0 ELSE 0.95 END)
                 / t.candidates, 3) END,
       t.candidates,
       amb.candidate_attempts, $analysis_id
FROM _attr t
LEFT JOIN _attempts a ON a.aidx = t.aidx
LEFT JOIN _ambiguous amb ON amb.rn = t.rn
LEFT JOIN im_workers w ON w.widx = t.widx
WHERE t.in_period;
