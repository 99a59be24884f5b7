-- Recordid jumps shown in the report: the largest $limit of evidence/recordid_jumps.parquet
-- (written by recordid_jumps.sql just before), so the sequence is walked once per pack.
SELECT source, previous_id, next_id, missing, total_jumps, total_missing
FROM read_parquet($evidence)
ORDER BY missing DESC, source, previous_id
LIMIT $limit;
