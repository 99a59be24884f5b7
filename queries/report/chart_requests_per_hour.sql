-- Chart: requests per hour by Zscaler action (ZIA web; ZPA connections by status).
SELECT date_trunc('hour', event_time) AS hour, coalesce(action, '(none)') AS action, count(*) AS requests
FROM zia_web
WHERE event_time >= $since AND event_time < $until
GROUP BY ALL
UNION ALL
SELECT date_trunc('hour', event_time), 'ZPA ' || coalesce(connection_status, '(none)'), count(*)
FROM zpa_user_activity
WHERE event_time >= $since AND event_time < $until
GROUP BY ALL
ORDER BY hour, action;
