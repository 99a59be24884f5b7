-- Findings as exported, one definition for evidence/findings.csv|parquet and for
-- `zsaudit findings --format csv|json`: the same columns, times as ISO 8601 UTC
-- (YYYY-MM-DDTHH:MM:SSZ), lists (controls, evidence ids, attempts hit) joined by a single space.
-- $since NULL: every finding (the CLI); $kind / $status NULL: no filter.
SELECT finding_id, kind, subtype, title, severity, status, array_to_string(controls, ' ') AS controls,
       strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS event_time,
       attempt_id, dag_id, run_id, task_id, map_index, try_number, worker, login, host, conn_id,
       detail, coalesce(evidence_count, len(evidence_ids)) AS evidence_count,
       array_to_string(evidence_ids, ' ') AS evidence_ids,
       strftime(gap_start AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS gap_start,
       strftime(gap_end AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS gap_end, gap_seconds,
       array_to_string(attempts_hit, ' ') AS attempts_hit,
       exception_approver, exception_reason, exception_ticket, exception_expires, exception_note,
       analysis_id
FROM findings_in_period($since, $until) f
WHERE ($kind IS NULL OR f.kind = $kind)
  AND ($status IS NULL OR f.status = $status)
ORDER BY f.event_time NULLS FIRST, f.finding_id;
