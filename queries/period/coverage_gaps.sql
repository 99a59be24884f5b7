-- Coverage across the period [$since, $until): every night with no nightly analysis, and every
-- coverage_gap finding of a nightly analysis (a source silent for a stretch, a file mostly rejected).
WITH nights AS (
    SELECT CAST(g.d AS DATE) AS night
    FROM generate_series(CAST($since AT TIME ZONE 'UTC' AS TIMESTAMP),
                         CAST($until AT TIME ZONE 'UTC' AS TIMESTAMP) - INTERVAL 1 DAY, INTERVAL 1 DAY) AS g(d)
)
SELECT n.night, 'no_analysis' AS subtype, NULL AS source, NULL AS gap_start, NULL AS gap_end,
       'no nightly analysis of this night in the store: none of its checks ran' AS detail, NULL AS finding_id
FROM nights n
WHERE n.night NOT IN (SELECT night FROM nightly_analyses)
UNION ALL
SELECT a.night, f.subtype, replace(replace(f.evidence_ids[1], 'source:', ''), 'file:', 'file '), f.gap_start,
       f.gap_end, f.detail, f.finding_id
FROM findings f JOIN nightly_analyses a ON a.analysis_id = f.analysis_id
WHERE f.kind = 'coverage_gap' AND a.period_start >= $since AND a.period_start < $until
ORDER BY night, subtype, source, gap_start, finding_id;
