-- Persist the period's attributions with the attempt identity, replacing any earlier analysis
-- of the same period (or of requests inside it). Ambiguous requests list their candidates.
DELETE FROM attributions
WHERE analysis_id = $analysis_id OR (event_time >= $since AND event_time < $until);

CREATE OR REPLACE TEMP TABLE _ambiguous AS
SELECT c.rn, list(a.attempt_id ORDER BY a.attempt_id)[1:10] AS candidate_attempts
FROM (SELECT rn, via FROM _attr WHERE status = 'ambiguous') t
JOIN _candidates c ON c.rn = t.rn
JOIN _attempts a ON a.aidx = c.aidx
WHERE CASE t.via WHEN 'both' THEN c.login_ok AND c.host_ok WHEN 'login' THEN c.login_ok
                 WHEN 'host' THEN c.host_ok ELSE true END
GROUP BY c.rn;

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
