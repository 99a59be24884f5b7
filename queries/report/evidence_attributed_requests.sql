-- evidence/attributed_requests: every request of the period (ZIA web and ZPA user activity) with
-- the task attempt behind it: status attributed | ambiguous | unattributed; not_worker for traffic
-- the analysis found to be from no worker and no service account; not_analysed when no analysis
-- has covered the request's time yet.
WITH req AS (
    SELECT 'zia_web' AS request_table, rid, event_time, login, host, url AS url_or_application, action,
           request_method, response_code, protocol, user_agent, client_ip, device_hostname,
           record_id, source_file, source_line
    FROM zia_web WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 'zpa_user_activity', rid, event_time, username, host, application, connection_status,
           NULL, NULL, NULL, NULL, client_private_ip, hostname, NULL, source_file, source_line
    FROM zpa_user_activity WHERE event_time >= $since AND event_time < $until
)
SELECT r.request_table, r.rid AS evidence_id, r.event_time,
       coalesce(a.status, CASE WHEN EXISTS (SELECT 1 FROM analysis_runs ar
                                            WHERE r.event_time >= ar.period_start AND r.event_time < ar.period_end)
                               THEN 'not_worker' ELSE 'not_analysed' END) AS status,
       a.method, a.confidence, a.candidates, a.worker, r.login, r.host, r.url_or_application, r.action,
       r.request_method, r.response_code, r.protocol, r.user_agent, r.client_ip, r.device_hostname,
       a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number,
       r.record_id, r.source_file, r.source_line
FROM req r
LEFT JOIN attributions a ON a.request_table = r.request_table AND a.request_rid = r.rid
ORDER BY r.event_time, r.request_table, r.rid;
