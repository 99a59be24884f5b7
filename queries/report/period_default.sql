-- The period a pack covers when --since/--until are not given: the latest analysis run's
-- period; without one, whole UTC days spanning the requests and task attempts in the store.
WITH latest AS (
    SELECT period_start, period_end
    FROM analysis_runs
    WHERE period_start IS NOT NULL AND period_end IS NOT NULL
    ORDER BY finished_at DESC NULLS LAST, analysis_id DESC
    LIMIT 1
), span AS (
    SELECT min(t) AS first_event, max(t) AS last_event
    FROM (
        SELECT min(event_time) AS t FROM zia_web UNION ALL SELECT max(event_time) FROM zia_web
        UNION ALL SELECT min(event_time) FROM zpa_user_activity UNION ALL SELECT max(event_time) FROM zpa_user_activity
        UNION ALL SELECT min(start_time) FROM task_attempts UNION ALL SELECT max(start_time) FROM task_attempts
    )
)
SELECT
    coalesce((SELECT period_start FROM latest), date_trunc('day', first_event)) AS since,
    coalesce((SELECT period_end FROM latest), date_trunc('day', last_event) + INTERVAL 1 DAY) AS until
FROM span;
