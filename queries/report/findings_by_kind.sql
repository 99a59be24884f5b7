-- Summary: findings by kind and severity, open and accepted apart.
WITH f AS (
    SELECT * FROM findings
    WHERE (event_time >= $since AND event_time < $until)
       OR (event_time IS NULL AND analysis_id IN (
            SELECT analysis_id FROM analysis_runs WHERE period_start < $until AND period_end > $since))
)
SELECT kind,
       count(*) FILTER (WHERE severity = 'critical') AS critical,
       count(*) FILTER (WHERE severity = 'high') AS high,
       count(*) FILTER (WHERE severity = 'medium') AS medium,
       count(*) FILTER (WHERE severity = 'low') AS low,
       count(*) FILTER (WHERE status = 'open') AS open,
       count(*) FILTER (WHERE status = 'accepted') AS accepted,
       count(*) AS total
FROM f
GROUP BY kind
ORDER BY kind;
