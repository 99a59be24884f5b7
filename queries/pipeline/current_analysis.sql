-- The period's latest analysis if it is still current: made with the same identity map (sha256)
-- and finished after the last file entered the store. `zsaudit run` then skips re-analysis, so a
-- second run for the same night leaves the findings, and the pack, exactly as they were.
-- reads: analysis_runs, ingest_ledger
WITH latest AS (
    SELECT analysis_id, identity_map_sha256, finished_at
    FROM analysis_runs
    WHERE period_start = $since AND period_end = $until AND finished_at IS NOT NULL
    ORDER BY finished_at DESC, analysis_id DESC
    LIMIT 1
)
SELECT analysis_id
FROM latest
WHERE identity_map_sha256 = $sha
  AND finished_at >= coalesce((SELECT max(finished_at) FROM ingest_ledger), TIMESTAMPTZ '1970-01-01 00:00:00+00');
