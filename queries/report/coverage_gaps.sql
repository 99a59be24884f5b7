-- Coverage gaps: the period's coverage_gap findings (one definition: queries/findings/coverage_gap.sql),
-- longest first (top $limit). A silent source names it (evidence id source:<name>); a file mostly
-- rejected shows as source 'file' (evidence id file:<sha256>, the path in the detail).
WITH f AS (
    SELECT *, coalesce(epoch(gap_end - gap_start), 0) AS seconds,
           CASE WHEN evidence_ids[1] LIKE 'source:%' THEN substr(evidence_ids[1], 8) ELSE 'file' END AS source
    FROM findings_in_period($since, $until)
    WHERE kind = 'coverage_gap'
)
SELECT finding_id, subtype, source, gap_start, gap_end, round(seconds / 3600, 2) AS hours, status, detail,
       count(*) OVER () AS total_gaps,
       round(coalesce(sum(seconds) FILTER (WHERE source <> 'file') OVER (), 0) / 3600, 2) AS total_hours
FROM f
ORDER BY seconds DESC, finding_id
LIMIT $limit;
