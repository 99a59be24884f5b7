-- How small the store is (queries.small_store_settings): the rows of every table of the store, from
-- DuckDB's own count of each (no scan); and DuckDB's optimizers but filter pushdown, by name (what
-- the statements on a small store leave out: the value of its disabled_optimizers).
-- reads: -
SELECT (SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables()
        WHERE database_name = current_database()) AS store_rows,
       (SELECT string_agg(name, ',') FROM duckdb_optimizers()
        WHERE name <> 'filter_pushdown') AS optimizers_but_filter_pushdown;
