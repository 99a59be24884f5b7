-- Coverage gaps shown in the report: the longest $limit of evidence/coverage_gaps.parquet
-- (written by coverage_gaps.sql just before).
SELECT source, gap_start, gap_end, hours, total_gaps, total_hours
FROM read_parquet($evidence)
ORDER BY hours DESC, source, gap_start
LIMIT $limit;
