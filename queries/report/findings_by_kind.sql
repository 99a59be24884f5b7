-- Summary: findings by kind and severity, open and accepted apart.
WITH f AS (
    SELECT * FROM findings_in_period($since, $until)
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
