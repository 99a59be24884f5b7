-- CC6.6 sample: the $n attempts with the smallest md5('<seed>:' || attempt_id); trace them in
-- evidence/task_attempts.csv and, by attempt_id, in evidence/attributed_requests.csv.
WITH pop AS (
    SELECT * FROM task_attempts WHERE start_time >= $since AND start_time < $until
    ORDER BY md5($seed || ':' || attempt_id), attempt_id
    LIMIT $n
)
SELECT p.attempt_id AS evidence_id, p.dag_id, p.task_id, p.try_number AS try, p.hostname, p.start_time, p.state,
       (SELECT count(*) FROM task_egress_hints h WHERE h.attempt_id = p.attempt_id) AS destinations_in_log,
       (SELECT count(*) FROM attributions a WHERE a.attempt_id = p.attempt_id AND a.status = 'attributed') AS zscaler_requests
FROM pop p
ORDER BY md5($seed || ':' || p.attempt_id), p.attempt_id;
