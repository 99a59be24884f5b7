-- CC6.6 sample: the $n attempts with the smallest md5('<seed>:' || attempt_id), each as a test
-- record: observed = destinations its log names, Zscaler requests tied to it and the CC6.6 findings
-- on it; result pass | deviation | accepted risk. Trace them in evidence/task_attempts.csv and, by
-- attempt_id, in evidence/attributed_requests.csv.
WITH pop AS (
    SELECT * FROM task_attempts WHERE start_time >= $since AND start_time < $until
    ORDER BY md5($seed || ':' || attempt_id), attempt_id
    LIMIT $n
), counted AS (
    SELECT p.*,
           (SELECT count(*) FROM task_egress_hints h WHERE h.attempt_id = p.attempt_id) AS in_log,
           (SELECT count(*) FROM attributions a WHERE a.attempt_id = p.attempt_id AND a.status = 'attributed') AS via_zscaler
    FROM pop p
)
SELECT c.attempt_id AS evidence_id, c.dag_id || ' / ' || c.task_id || ' / ' || c.try_number AS "dag / task / try",
       c.hostname, c.start_time, c.state,
       c.in_log || ' named in log, ' || c.via_zscaler || ' via Zscaler'
           || coalesce('; ' || n.kinds, '') AS observed,
       sample_result(n.any_open, n.kinds, 'pass') AS result
FROM counted c
LEFT JOIN findings_on_attempt('CC6.6') n USING (attempt_id)
ORDER BY md5($seed || ':' || c.attempt_id), c.attempt_id;
