-- Every finding subject's lifecycle over the nights [$since, $until) (dates, or UTC midnights;
-- NULL = all nightly analyses): first and last night seen, status at the end, resolved on, days
-- to resolve, and its status history as text ("open 2026-07-01, resolved 2026-07-09").
-- finding_lifecycle_between and finding_history_between: queries/migrations/005_finding_lifecycle.sql;
-- docs/findings.md "Lifecycle". $kind: one kind, or NULL for all.
WITH h AS (
    SELECT subject_id, string_agg(status || ' ' || strftime(from_night, '%Y-%m-%d'), ', ' ORDER BY from_night) AS history
    FROM finding_history_between(CAST($since AS DATE), CAST($until AS DATE))
    GROUP BY subject_id
)
SELECT l.subject_id, l.kind, l.subtype, l.severity, array_to_string(l.controls, ' ') AS controls, l.status,
       l.first_seen, l.last_seen, l.resolved_on, l.days_to_resolve, l.nights_open, l.nights_accepted,
       l.nights_not_evaluable, l.reopened, l.dag_id, l.task_id, l.worker, l.login, l.host, l.conn_id,
       l.exception_ticket, l.exception_expires, h.history, l.subject, l.title, l.through, l.last_detail
FROM finding_lifecycle_between(CAST($since AS DATE), CAST($until AS DATE)) l
LEFT JOIN h USING (subject_id)
WHERE $kind IS NULL OR l.kind = $kind
ORDER BY CASE l.status WHEN 'open' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END,
         CASE l.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
         l.first_seen, l.subject_id;
