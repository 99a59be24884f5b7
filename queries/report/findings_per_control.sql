-- Per SOC 2 criterion: findings tagged with it, by status.
WITH f AS (
    SELECT * FROM findings_in_period($since, $until)
)
SELECT c.control,
       count(*) FILTER (WHERE f.status <> 'accepted') AS open,
       count(*) FILTER (WHERE f.status = 'accepted') AS accepted,
       string_agg(DISTINCT f.kind, ' ' ORDER BY f.kind) AS kinds
FROM f, unnest(f.controls) AS c(control)
GROUP BY c.control
ORDER BY c.control;
