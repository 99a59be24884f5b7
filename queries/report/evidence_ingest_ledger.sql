-- evidence/ingest_ledger: every input file whose events overlap the period (or that held none).
-- No wall-clock time of the ingest (started_at, finished_at stay in the store): the pack of the
-- same inputs is the same bytes whenever the work is re-performed.
SELECT coalesce(pp.shown, l.path) AS path, sha256, size, source_kind, format, lines_read, rows_loaded, rows_rejected,
       coalesce(rows_duplicate, 0) AS rows_duplicate, top_reject_reason,
       lines_read = rows_loaded + rows_rejected + coalesce(rows_duplicate, 0) AS adds_up, first_event, last_event,
       status, field_drift, note
FROM ingest_ledger l
LEFT JOIN _pack_paths pp ON pp.path = l.path
WHERE (first_event < $until AND last_event >= $since) OR first_event IS NULL
ORDER BY source_kind, 1, sha256;
