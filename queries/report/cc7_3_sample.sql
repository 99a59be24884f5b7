-- CC7.3 sample: the $n findings with the smallest md5('<seed>:' || finding_id).
SELECT finding_id AS evidence_id, kind, severity, status, event_time, dag_id, task_id, login,
       exception_ticket, exception_approver, exception_expires
FROM findings
WHERE (event_time >= $since AND event_time < $until)
   OR (event_time IS NULL AND analysis_id IN (
        SELECT analysis_id FROM analysis_runs WHERE period_start < $until AND period_end > $since))
ORDER BY md5($seed || ':' || finding_id), finding_id
LIMIT $n;
