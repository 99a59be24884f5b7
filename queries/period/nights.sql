-- Every UTC night of the period [$since, $until) and its nightly analysis (an analysis of exactly
-- that day; nightly_analyses in queries/migrations/005_finding_lifecycle.sql): whether it ran,
-- the sources with a no_data coverage_gap, requests analysed, findings raised (open, accepted).
WITH nights AS (
    SELECT CAST(g.d AS DATE) AS night
    FROM generate_series(CAST($since AT TIME ZONE 'UTC' AS TIMESTAMP),
                         CAST($until AT TIME ZONE 'UTC' AS TIMESTAMP) - INTERVAL 1 DAY, INTERVAL 1 DAY) AS g(d)
), f AS (
    SELECT analysis_id, count(*) FILTER (WHERE status <> 'accepted') AS open,
           count(*) FILTER (WHERE status = 'accepted') AS accepted
    FROM findings GROUP BY analysis_id
)
SELECT n.night, a.analysis_id, a.analysis_id IS NOT NULL AS analysed,
       array_to_string(a.gap_sources, ' ') AS gap_sources, a.worker_requests, a.identity_map_sha256,
       coalesce(f.open, 0) AS findings_open, coalesce(f.accepted, 0) AS findings_accepted,
       CASE WHEN a.analysis_id IS NULL THEN 'not evaluable'
            WHEN len(a.gap_sources) > 0 THEN 'not evaluable'
            ELSE 'evaluated' END AS evidence,
       CASE WHEN a.analysis_id IS NULL THEN 'no nightly analysis of this night in the store'
            WHEN len(a.gap_sources) > 0 THEN 'coverage gap: ' || array_to_string(a.gap_sources, ', ')
                                              || ' delivered nothing for part of the night' END AS reason
FROM nights n
LEFT JOIN nightly_analyses a ON a.night = n.night
LEFT JOIN f ON f.analysis_id = a.analysis_id
ORDER BY n.night;
