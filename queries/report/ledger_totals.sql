-- Completeness totals over the same files as ledger_files.sql (_ledger_checks), per source kind.
SELECT source_kind,
       count(*) AS files,
       sum(lines_read) AS lines_read,
       sum(rows_loaded) AS rows_loaded,
       sum(rows_rejected) AS rows_rejected,
       sum(coalesce(rows_duplicate, 0)) AS rows_duplicate,
       count(*) FILTER (WHERE status = 'refused') AS refused,
       count(*) FILTER (WHERE NOT adds_up) AS not_adding_up,
       count(*) FILTER (WHERE (rows_in_store IS NOT NULL AND rows_in_store <> rows_loaded)
                           OR rejects_in_store <> rows_rejected) AS store_mismatch,
       count(*) FILTER (WHERE field_drift IS NOT NULL) AS drifted,
       min(first_event) AS first_event,
       max(last_event) AS last_event
FROM _ledger_checks
GROUP BY source_kind
ORDER BY source_kind;
