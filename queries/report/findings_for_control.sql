-- The open findings of one SOC 2 criterion, most severe first (top $limit).
SELECT finding_id, kind, title, severity, event_time, dag_id, task_id, try_number, login, host, detail,
       exception_ticket, exception_expires, exception_note
FROM findings_in_period($since, $until)
WHERE list_contains(controls, $control) AND status <> 'accepted'
ORDER BY list_position($severity_order, severity) NULLS LAST,
         event_time NULLS FIRST, finding_id
LIMIT $limit;
