-- Per input file (the _ledger_checks table of ledger_checks.sql): files with a problem first;
-- top $limit rows.
SELECT path, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected,
       coalesce(rows_duplicate, 0) AS rows_duplicate, top_reject_reason, note, status = 'refused' AS refused, adds_up,
       rows_in_store, rejects_in_store, first_event, last_event, status, field_drift,
       NOT adds_up OR (rows_in_store IS NOT NULL AND rows_in_store <> rows_loaded)
           OR rejects_in_store <> rows_rejected AS mismatch
FROM _ledger_checks
ORDER BY mismatch DESC, status = 'refused' DESC, rows_rejected > 0 DESC, rows_duplicate > 0 DESC, field_drift IS NOT NULL DESC, source_kind, path, sha256
LIMIT $limit;
