-- An Airflow unit's scratch store: forget the ledger rows it was seeded with (files earlier units
-- loaded, read from the lake so the ingester skips them), so that only its own files are exported.
-- reads: ingest_ledger
DELETE FROM ingest_ledger WHERE list_contains($ids, file_id);
