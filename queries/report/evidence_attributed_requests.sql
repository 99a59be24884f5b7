-- evidence/attributed_requests: every request of the period (ZIA web and ZPA user activity) with
-- the task attempt behind it: status attributed | ambiguous | unattributed; not_worker for traffic
-- an analysis covered but found to be from no worker and no service account; not_analysed when no
-- analysis has covered the request's time yet.
WITH req AS (
    SELECT 'zia_web' AS request_table, rid, event_time, login, host, url AS url_or_application, action,
           request_method, response_code, protocol, user_agent, client_ip, device_hostname,
           record_id, source_file, source_line
    FROM zia_web WHERE event_time >= $since AND event_time < $until
    UNION ALL
    SELECT 'zpa_user_activity', rid, event_time, username, host, application, connection_status,
           NULL, NULL, NULL, NULL, client_private_ip, hostname, NULL, source_file, source_line
    FROM zpa_user_activity WHERE event_time >= $since AND event_time < $until
), attr AS (
    SELECT * FROM attributions WHERE event_time >= $since AND event_time < $until
), runs AS (
    SELECT period_start AS s, period_end AS e FROM analysis_runs
    WHERE period_start < $until AND period_end > $since
), marked AS (   -- merge overlapping analysis periods into disjoint spans (one match per request)
    SELECT s, e, CASE WHEN s <= max(e) OVER (ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                      THEN 0 ELSE 1 END AS starts_span
    FROM runs
), analysed AS (
    SELECT min(s) AS s, max(e) AS e
    FROM (SELECT s, e, sum(starts_span) OVER (ORDER BY s, e) AS span FROM marked)
    GROUP BY span
)
SELECT r.request_table, r.rid AS evidence_id, r.event_time,
       coalesce(a.status, CASE WHEN an.s IS NOT NULL THEN 'not_worker' ELSE 'not_analysed' END) AS status,
       a.method, a.confidence, a.candidates, a.worker, r.login, r.host, r.url_or_application, r.action,
       r.request_method, r.response_code, r.protocol, r.user_agent, r.client_ip, r.device_hostname,
       a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number,
       r.record_id, coalesce(pp.shown, r.source_file) AS source_file, r.source_line
FROM req r
LEFT JOIN _pack_paths pp ON pp.path = r.source_file
LEFT JOIN attr a ON a.request_table = r.request_table AND a.request_rid = r.rid
LEFT JOIN analysed an ON r.event_time >= an.s AND r.event_time < an.e
ORDER BY r.event_time, r.request_table, r.rid;
