-- How many requests an analysis of [$since, $until) reads, roughly (the period itself, not the
-- attempts' widened windows): a small one runs on one DuckDB thread (analysis.analysis_settings);
-- and, in the same statement, what store/size.sql answers (the store's rows, the optimizers but
-- filter pushdown: queries.small_store_settings), the same two columns.
-- reads: zia_web, zpa_user_activity
SELECT (SELECT count(*) FROM zia_web WHERE event_time >= $since AND event_time < $until)
     + (SELECT count(*) FROM zpa_user_activity WHERE event_time >= $since AND event_time < $until) AS requests,
       (SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables()
        WHERE database_name = current_database()) AS store_rows,
       (SELECT string_agg(name, ',') FROM duckdb_optimizers()
        WHERE name <> 'filter_pushdown') AS optimizers_but_filter_pushdown;
