-- Staged detections -> findings rows: stable id, rule metadata, exceptions (first matching
-- [[exception]] that is valid on the finding's date wins; a match that expired says so).
-- reads: _found, rule_kinds, rule_subtypes, _attempts, im_exceptions, findings, analysis_runs
-- hands on: _final
CREATE OR REPLACE TEMP TABLE _final AS
WITH f AS (
    SELECT substr(sha256(f.kind || '|' || f.fkey), 1, 16) AS finding_id, f.*,
           a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number,
           coalesce(rs.severity, r.severity) AS severity, r.controls, r.title
    FROM _found f
    JOIN rule_kinds r ON r.kind = f.kind
    LEFT JOIN rule_subtypes rs ON rs.kind = f.kind AND rs.subtype = f.subtype
    LEFT JOIN _attempts a ON a.attempt_id = f.attempt_id
), m AS (
    SELECT f.finding_id, e.idx, e.approver, e.reason, e.ticket, e.expires,
           (f.event_time AT TIME ZONE 'UTC')::DATE <= e.expires AS valid
    FROM f JOIN im_exceptions e ON e.kind = f.kind
     AND (e.login IS NULL OR lower(coalesce(f.login, '')) GLOB lower(e.login))
     AND (e.dag IS NULL OR coalesce(f.dag_id, '') GLOB e.dag)
     AND (e.task IS NULL OR coalesce(f.task_id, '') GLOB e.task)
     AND (e.host IS NULL OR lower(coalesce(f.host, '')) GLOB lower(e.host))
     AND (e.worker IS NULL OR lower(coalesce(f.worker, '')) GLOB lower(e.worker))
     AND (e.conn_id IS NULL OR coalesce(f.conn_id, '') GLOB e.conn_id)
     AND (e.finding_id IS NULL OR f.finding_id = e.finding_id)
), best AS (
    SELECT finding_id,
           arg_min(idx, idx) FILTER (WHERE valid) AS ok_idx,
           arg_min(idx, idx) FILTER (WHERE NOT valid) AS expired_idx
    FROM m GROUP BY finding_id
)
SELECT f.finding_id, f.kind, f.subtype, f.severity, f.controls, f.title,
       CASE WHEN b.ok_idx IS NOT NULL THEN 'accepted' ELSE 'open' END AS status,
       f.event_time, f.attempt_id, f.dag_id, f.run_id, f.task_id, f.map_index, f.try_number,
       f.worker, f.login, f.host, f.conn_id, f.detail, f.evidence_ids, f.evidence_count,
       f.gap_start, f.gap_end, epoch(f.gap_end - f.gap_start) AS gap_seconds, f.attempts_hit,
       eo.approver AS exception_approver, eo.reason AS exception_reason, eo.ticket AS exception_ticket,
       eo.expires AS exception_expires,
       CASE WHEN b.ok_idx IS NULL AND ee.idx IS NOT NULL
            THEN 'exception #' || ee.idx || ' (' || ee.ticket || ', approved by ' || ee.approver
                 || ') matches but expired on ' || strftime(ee.expires, '%Y-%m-%d') || '; the finding is open'
       END AS exception_note
FROM f
LEFT JOIN best b ON b.finding_id = f.finding_id
LEFT JOIN im_exceptions eo ON eo.idx = b.ok_idx
LEFT JOIN im_exceptions ee ON ee.idx = b.expired_idx;

-- One row per finding per analysis: an analysis replaces its own rows, and the rows of the same
-- findings from analyses whose period overlaps it (their re-analysis); disjoint nights keep theirs.
DELETE FROM findings
WHERE analysis_id = $analysis_id
   OR (finding_id IN (SELECT finding_id FROM _final)
       AND analysis_id IN (SELECT analysis_id FROM analysis_runs
                           WHERE coalesce(period_start, $since) < $until AND coalesce(period_end, $until) > $since));

-- The subject is a column of a subquery, not a LATERAL: DuckDB joins a LATERAL's result back to
-- the rows on every column it reads, evidence_ids included (0.33 -> 0.21 CPU-s at 98,782 findings).
INSERT INTO findings
    (finding_id, kind, subtype, severity, controls, title, status, event_time, attempt_id, dag_id, run_id,
     task_id, map_index, try_number, worker, login, host, conn_id, detail, evidence_ids, evidence_count,
     gap_start, gap_end, gap_seconds, attempts_hit, exception_approver, exception_reason,
     exception_ticket, exception_expires, exception_note, analysis_id, subject, subject_id)
SELECT finding_id, kind, subtype, severity, controls, title, status, event_time, attempt_id, dag_id, run_id,
       task_id, map_index, try_number, worker, login, host, conn_id, detail, evidence_ids, evidence_count,
       gap_start, gap_end, gap_seconds, attempts_hit, exception_approver, exception_reason,
       exception_ticket, exception_expires, exception_note, $analysis_id, subject, substr(sha256(subject), 1, 16)
FROM (SELECT *, finding_subject(kind, subtype, dag_id, task_id, map_index, worker, login, host, conn_id,
                                evidence_ids) AS subject
      FROM _final);
