-- Open findings, most severe first (top $limit; the full list is evidence/findings.csv).
SELECT finding_id, kind, title, severity, array_to_string(controls, ' ') AS controls, event_time,
       dag_id, run_id, task_id, map_index, try_number, login, host, detail,
       coalesce(evidence_count, len(evidence_ids)) AS evidence_count,
       exception_ticket, exception_expires, exception_note
FROM findings
WHERE status <> 'accepted'
  AND ((event_time >= $since AND event_time < $until)
    OR (event_time IS NULL AND analysis_id IN (
         SELECT analysis_id FROM analysis_runs WHERE period_start < $until AND period_end > $since)))
ORDER BY list_position($severity_order, severity) NULLS LAST,
         event_time NULLS FIRST, finding_id
LIMIT $limit;
