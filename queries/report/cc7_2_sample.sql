-- CC7.2 sample: the $n attempts with the smallest md5('<seed>:' || attempt_id).
WITH pop AS (
    SELECT * FROM task_attempts WHERE start_time >= $since AND start_time < $until
    ORDER BY md5($seed || ':' || attempt_id), attempt_id
    LIMIT $n
)
SELECT p.attempt_id AS evidence_id, p.dag_id, p.task_id, p.try_number AS try, p.hostname, p.start_time,
       p.end_time, p.state, p.return_code AS rc,
       (SELECT count(*) FROM findings f WHERE f.attempt_id = p.attempt_id) AS findings
FROM pop p
ORDER BY md5($seed || ':' || p.attempt_id), p.attempt_id;
