-- Persist the period's attributions with the attempt identity, replacing any earlier analysis
-- of the same period (or of requests inside it).
DELETE FROM attributions
WHERE analysis_id = $analysis_id OR (event_time >= $since AND event_time < $until);

INSERT INTO attributions
    (request_table, request_rid, event_time, worker, login, host, attempt_id, dag_id, run_id, task_id,
     map_index, try_number, status, method, confidence, candidates, candidate_attempts, analysis_id)
SELECT t.request_table, t.rid, t.event_time, t.worker, t.login, t.host, t.attempt_id, a.dag_id, a.run_id,
       a.task_id, a.map_index, a.try_number, t.status, t.method, t.confidence, t.candidates,
       t.candidate_attempts, $analysis_id
FROM _attr t
LEFT JOIN _attempts a ON a.attempt_id = t.attempt_id
WHERE t.in_period;
