-- Summary: each source's rows in the period and the time they cover.
SELECT source, label, rows, first_event, last_event
FROM (
    SELECT 1 AS ord, 'zia_web' AS source, 'ZIA web (requests)' AS label, count(*) AS rows,
           min(event_time) AS first_event, max(event_time) AS last_event
    FROM zia_web WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 2, 'zia_firewall', 'ZIA firewall', count(*), min(event_time), max(event_time)
    FROM zia_firewall WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 3, 'zia_dns', 'ZIA DNS', count(*), min(event_time), max(event_time)
    FROM zia_dns WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 4, 'zpa_user_activity', 'ZPA user activity', count(*), min(event_time), max(event_time)
    FROM zpa_user_activity WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 5, 'zpa_user_status', 'ZPA user status', count(*), min(event_time), max(event_time)
    FROM zpa_user_status WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 6, 'zpa_browser_access', 'ZPA Browser Access', count(*), min(event_time), max(event_time)
    FROM zpa_browser_access WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 7, 'zpa_connector_status', 'ZPA App Connector status', count(*), min(event_time), max(event_time)
    FROM zpa_connector_status WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 8, 'task_attempts', 'Airflow task attempts', count(*), min(start_time), max(coalesce(end_time, start_time))
    FROM task_attempts WHERE start_time >= $since AND start_time < $until
)
ORDER BY ord;
