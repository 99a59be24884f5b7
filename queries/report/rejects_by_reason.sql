-- Rejected lines of the period's files, by reason, with one example line each (top $limit).
WITH files AS (
    SELECT file_id FROM ingest_ledger
    WHERE (first_event < $until AND last_event >= $since) OR first_event IS NULL
)
SELECT reason, count(*) AS lines,
       arg_min(source_file, (source_file, source_line)) AS example_file,
       arg_min(source_line, (source_file, source_line)) AS example_line,
       arg_min(left(raw, 160), (source_file, source_line)) AS example_raw
FROM (SELECT r.* REPLACE (coalesce(pp.shown, r.source_file) AS source_file)
      FROM rejects r LEFT JOIN _pack_paths pp ON pp.path = r.source_file) r
WHERE file_id IN (SELECT file_id FROM files)
GROUP BY reason
ORDER BY lines DESC, reason
LIMIT $limit;
