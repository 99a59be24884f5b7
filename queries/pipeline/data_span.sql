-- Whole UTC days spanning the store's requests and task attempts (the demo's period when the
-- synthesizer does not say which night it wrote).
-- reads: zia_web, zpa_user_activity, task_attempts
WITH t AS (
    SELECT event_time AS t FROM zia_web
    UNION ALL SELECT event_time FROM zpa_user_activity
    UNION ALL SELECT start_time FROM task_attempts
)
SELECT date_trunc('day', min(t) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS since,
       (date_trunc('day', max(t) AT TIME ZONE 'UTC') + INTERVAL 1 DAY) AT TIME ZONE 'UTC' AS until
FROM t WHERE t IS NOT NULL;
