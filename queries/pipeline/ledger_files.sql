-- What the ledger knows about each file path: its size and when its last load started. A file
-- with the same path and size, not modified since that load started, is not read again.
-- reads: ingest_ledger
SELECT path, size, max(started_at) AS started_at
FROM ingest_ledger
WHERE size IS NOT NULL AND started_at IS NOT NULL
GROUP BY path, size;
