-- How many requests an analysis of [$since, $until) reads, roughly (the period itself, not the
-- attempts' widened windows): a small one runs on one DuckDB thread (analysis.analysis_settings).
-- reads: zia_web, zpa_user_activity
SELECT (SELECT count(*) FROM zia_web WHERE event_time >= $since AND event_time < $until)
     + (SELECT count(*) FROM zpa_user_activity WHERE event_time >= $since AND event_time < $until);
