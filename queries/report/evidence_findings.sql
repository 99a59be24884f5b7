-- evidence/findings: every finding of the period, accepted exceptions included.
SELECT finding_id, kind, subtype, title, severity, status, array_to_string(controls, ' ') AS controls,
       event_time, attempt_id, dag_id, run_id, task_id, map_index, try_number, worker, login, host, conn_id,
       detail, coalesce(evidence_count, len(evidence_ids)) AS evidence_count,
       array_to_string(evidence_ids, ' ') AS evidence_ids, gap_start, gap_end,
       exception_approver, exception_reason, exception_ticket, exception_expires, exception_note,
       analysis_id
FROM findings
WHERE (event_time >= $since AND event_time < $until)
   OR (event_time IS NULL AND analysis_id IN (
        SELECT analysis_id FROM analysis_runs WHERE period_start < $until AND period_end > $since))
ORDER BY event_time NULLS FIRST, finding_id;
