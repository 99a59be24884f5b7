-- CC7.3 sample: the $n findings with the smallest md5('<seed>:' || finding_id), each as a test
-- record: observed = its status and the exception it was evaluated against; result deviation (open
-- and tagged CC7.3) | accepted risk (accepted and tagged CC7.3) | pass (evaluated: open for
-- follow-up, or accepted under an approved exception).
SELECT finding_id AS evidence_id, kind, severity, event_time AS "time", dag_id || ' / ' || task_id AS "dag / task",
       login, exception_ticket, exception_approver, exception_expires,
       CASE WHEN status = 'accepted' THEN 'accepted under ' || coalesce(exception_ticket, '?')
            WHEN exception_ticket IS NOT NULL THEN 'open; ' || exception_ticket || ' did not apply'
            ELSE 'open for follow-up' END AS observed,
       CASE WHEN list_contains(controls, 'CC7.3') AND status <> 'accepted' THEN 'deviation'
            WHEN list_contains(controls, 'CC7.3') THEN 'accepted risk' ELSE 'pass' END AS result
FROM findings_in_period($since, $until)
ORDER BY md5($seed || ':' || finding_id), finding_id
LIMIT $n;
