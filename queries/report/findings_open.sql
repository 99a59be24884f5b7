-- Open findings, most severe first (top $limit; the full list is evidence/findings.csv).
SELECT finding_id, kind, title, severity, array_to_string(controls, ' ') AS controls, event_time,
       dag_id, run_id, task_id, map_index, try_number, login, host, detail,
       coalesce(evidence_count, len(evidence_ids)) AS evidence_count,
       exception_ticket, exception_expires, exception_note
FROM findings_in_period($since, $until)
WHERE status <> 'accepted'
ORDER BY list_position($severity_order, severity) NULLS LAST,
         event_time NULLS FIRST, finding_id
LIMIT $limit;
