-- findings.ocsf.json: the period's findings with what an OCSF Detection Finding needs.
SELECT finding_id, kind, subtype, title, severity, status, controls, event_time, dag_id, run_id, task_id, map_index,
       try_number, worker, login, host, conn_id, detail, evidence_ids, gap_start, gap_end, exception_approver,
       exception_reason, exception_ticket, exception_expires, exception_note, analysis_id
FROM findings_in_period($since, $until)
ORDER BY event_time NULLS FIRST, finding_id;
