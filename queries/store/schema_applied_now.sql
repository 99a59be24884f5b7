-- A new store copied from the process' migrated template (zsaudit/store.py): its versions applied now.
-- reads: schema_version
UPDATE schema_version SET applied_at = current_timestamp;
