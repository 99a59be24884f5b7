-- Every finding subject's lifecycle over the nights [$since, $until) (dates; NULL = all nightly
-- analyses): first and last night seen, status at the end, resolved on, days to resolve
-- (finding_lifecycle_between in queries/migrations/005_finding_lifecycle.sql; docs/findings.md).
SELECT subject_id, kind, subtype, severity, array_to_string(controls, ' ') AS controls, title, subject,
       dag_id, task_id, worker, login, host, conn_id, first_seen, last_seen, status, resolved_on,
       days_to_resolve, nights_open, nights_accepted, nights_not_evaluable, reopened, through,
       exception_ticket, exception_expires, last_detail
FROM finding_lifecycle_between($since, $until)
WHERE $kind IS NULL OR kind = $kind
ORDER BY CASE status WHEN 'open' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END,
         CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
         first_seen, subject_id;
