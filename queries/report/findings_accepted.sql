-- Accepted exceptions: findings covered by an approved, time-boxed exception of the identity map.
-- An exception whose expiry falls before the end of the period is flagged.
SELECT finding_id, kind, title, severity, array_to_string(controls, ' ') AS controls, event_time,
       dag_id, task_id, login, host, detail,
       exception_approver, exception_reason, exception_ticket, exception_expires, exception_note,
       exception_expires IS NOT NULL AND exception_expires < CAST($until AS DATE) AS expires_in_period
FROM findings_in_period($since, $until)
WHERE status = 'accepted'
ORDER BY exception_ticket NULLS LAST, event_time NULLS FIRST, finding_id
LIMIT $limit;
