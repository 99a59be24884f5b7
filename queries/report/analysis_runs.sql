-- The analyses whose period overlaps the pack's period (identity map used, when).
SELECT analysis_id, period_start, period_end, identity_map_path, identity_map_sha256, started_at, finished_at
FROM analysis_runs
WHERE period_start < $until AND period_end > $since
ORDER BY finished_at DESC NULLS LAST, analysis_id DESC;
