-- CC7.2 sample: the $n attempts with the smallest md5('<seed>:' || attempt_id), each as a test
-- record: observed = the CC7.2 findings on the attempt and the checks that could not run for it;
-- result pass | deviation | accepted risk | not evaluable.
WITH pop AS (
    SELECT * FROM task_attempts WHERE start_time >= $since AND start_time < $until
    ORDER BY md5($seed || ':' || attempt_id), attempt_id
    LIMIT $n
), unevaluable AS (
    SELECT attempt_id, string_agg(DISTINCT check_kind, ', ' ORDER BY check_kind) AS checks
    FROM not_evaluable WHERE attempt_id IN (SELECT attempt_id FROM pop)
    GROUP BY attempt_id
)
SELECT p.attempt_id AS evidence_id, p.dag_id || ' / ' || p.task_id || ' / ' || p.try_number AS "dag / task / try",
       p.hostname, p.start_time, p.end_time, p.state, p.return_code AS rc,
       concat_ws('; ', n.kinds, 'not evaluable: ' || u.checks,
                 CASE WHEN n.kinds IS NULL AND u.checks IS NULL THEN 'no anomaly' END) AS observed,
       sample_result(n.any_open, n.kinds, CASE WHEN u.checks IS NOT NULL THEN 'not evaluable' ELSE 'pass' END) AS result
FROM pop p
LEFT JOIN findings_on_attempt('CC7.2') n USING (attempt_id)
LEFT JOIN unevaluable u USING (attempt_id)
ORDER BY md5($seed || ':' || p.attempt_id), p.attempt_id;
