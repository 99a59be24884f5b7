-- Coverage gaps shown in the report: the longest $limit of evidence/coverage_gaps.parquet
-- (written by coverage_gaps.sql just before).
SELECT finding_id, subtype, source, gap_start, gap_end, hours, status, detail, total_gaps, total_hours
FROM read_parquet($evidence)
ORDER BY hours DESC, finding_id
LIMIT $limit;
