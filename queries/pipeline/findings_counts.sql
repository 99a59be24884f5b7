-- Findings of one analysis by kind, severity and status (open | accepted), for the run summary.
-- reads: findings
SELECT kind, severity, status, count(*) AS n
FROM findings
WHERE analysis_id = $analysis_id
GROUP BY ALL
ORDER BY ALL;
