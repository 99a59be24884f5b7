-- Ledger rows of files loaded in this transaction (zsaudit/ingest/ledger.py write()), replacing
-- any earlier row of the same file_id. One statement for every ingester.
-- reads: _ledger_rows, ingest_ledger
INSERT OR REPLACE INTO ingest_ledger
    (file_id, path, size, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected,
     rows_duplicate, top_reject_reason, first_event, last_event, started_at, finished_at, status,
     field_drift, note, hosts_derived)
SELECT file_id, path, size, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected,
       rows_duplicate, top_reject_reason, first_event, last_event, $started, $finished, status,
       field_drift, note, hosts_derived
FROM _ledger_rows;
