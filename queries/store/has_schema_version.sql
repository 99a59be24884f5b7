-- Whether the store has a schema_version table (a new, empty file has none).
-- reads: information_schema.tables, schema_version
SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version';
