-- How large an analysis of [$since, $until) is (analysis.analysis_settings): the requests of the
-- period itself (not the attempts' widened windows); the rows of every table of the store, from
-- DuckDB's own count of each (no scan); and DuckDB's optimizers but filter pushdown, by name
-- (what a small store's analysis leaves out: the value of its disabled_optimizers).
-- reads: zia_web, zpa_user_activity
SELECT (SELECT count(*) FROM zia_web WHERE event_time >= $since AND event_time < $until)
     + (SELECT count(*) FROM zpa_user_activity WHERE event_time >= $since AND event_time < $until) AS requests,
       (SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables()
        WHERE database_name = current_database()) AS store_rows,
       (SELECT string_agg(name, ',') FROM duckdb_optimizers()
        WHERE name <> 'filter_pushdown') AS optimizers_but_filter_pushdown;
