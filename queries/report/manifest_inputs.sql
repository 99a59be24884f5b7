-- manifest.json "inputs": the input files of the period as the ingest ledger recorded them.
SELECT coalesce(pp.shown, l.path) AS path, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected
FROM ingest_ledger l
LEFT JOIN _pack_paths pp ON pp.path = l.path
WHERE (first_event < $until AND last_event >= $since) OR first_event IS NULL
ORDER BY source_kind, 1, sha256;
