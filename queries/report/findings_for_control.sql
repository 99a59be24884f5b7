-- The open findings of one SOC 2 criterion, most severe first (top $limit).
SELECT finding_id, kind, title, severity, event_time, dag_id, task_id, try_number, login, host, detail,
       exception_ticket, exception_expires, exception_note
FROM findings
WHERE list_contains(controls, $control) AND status <> 'accepted'
  AND ((event_time >= $since AND event_time < $until)
    OR (event_time IS NULL AND analysis_id IN (
         SELECT analysis_id FROM analysis_runs WHERE period_start < $until AND period_end > $since)))
ORDER BY list_position($severity_order, severity) NULLS LAST,
         event_time NULLS FIRST, finding_id
LIMIT $limit;
