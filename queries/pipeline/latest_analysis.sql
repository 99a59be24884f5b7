-- The latest finished analysis of exactly this period (the one `zsaudit run` reports on).
-- reads: analysis_runs
SELECT analysis_id
FROM analysis_runs
WHERE period_start = $since AND period_end = $until
ORDER BY finished_at DESC NULLS LAST, analysis_id DESC
LIMIT 1;
