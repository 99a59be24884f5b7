-- Per SOC 2 criterion: findings tagged with it, by status.
WITH f AS (
    SELECT * FROM findings
    WHERE (event_time >= $since AND event_time < $until)
       OR (event_time IS NULL AND analysis_id IN (
            SELECT analysis_id FROM analysis_runs WHERE period_start < $until AND period_end > $since))
)
SELECT c.control,
       count(*) FILTER (WHERE f.status <> 'accepted') AS open,
       count(*) FILTER (WHERE f.status = 'accepted') AS accepted,
       string_agg(DISTINCT f.kind, ' ' ORDER BY f.kind) AS kinds
FROM f, unnest(f.controls) AS c(control)
GROUP BY c.control
ORDER BY c.control;
