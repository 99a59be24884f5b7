-- `zsaudit findings` (table format; JSON/CSV use report/evidence_findings.sql): every finding,
-- optionally of one kind and status, most severe first, then by time and id (a stable order).
-- reads: findings
SELECT finding_id, kind, subtype, severity, status, controls, event_time, dag_id, run_id, task_id,
       map_index, try_number, worker, login, host, conn_id, detail, gap_start, gap_end, gap_seconds,
       attempts_hit, evidence_count, evidence_ids, exception_approver, exception_reason,
       exception_ticket, exception_expires, exception_note, analysis_id
FROM findings
WHERE ($kind IS NULL OR kind = $kind) AND ($status IS NULL OR status = $status)
ORDER BY list_position($severity_order, severity) NULLS LAST, event_time, finding_id;
