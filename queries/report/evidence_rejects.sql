-- evidence/rejects: every line refused while loading the period's files, with the reason.
SELECT coalesce(pp.shown, r.source_file) AS source_file, r.source_line, r.reason, r.raw, r.file_id AS file_sha256
FROM rejects r
LEFT JOIN _pack_paths pp ON pp.path = r.source_file
WHERE r.file_id IN (
    SELECT file_id FROM ingest_ledger
    WHERE (first_event < $until AND last_event >= $since) OR first_event IS NULL)
ORDER BY 1, r.source_line, r.reason;
