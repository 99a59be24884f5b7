-- Whether the store has a schema_version table (a new, empty file has none). duckdb_tables() of
-- the store's own catalog: on a new connection, information_schema.tables (every catalog,
-- DuckDB's own included) cost ~14 ms CPU of an open's ~70, this ~3.
-- reads: schema_version
SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name = 'schema_version';
