-- The file the connection's current database is stored in (NULL in memory): lake.store_tag.
-- reads: -
SELECT path FROM duckdb_databases() WHERE database_name = current_database();
