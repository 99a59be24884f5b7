-- CC6.1 sample: the $n worker requests with the smallest md5('<seed>:' || request id).
-- Re-draw it from evidence/attributed_requests.parquet with the same rule and seed.
WITH picked AS (
    SELECT * FROM attributions
    WHERE event_time >= $since AND event_time < $until AND status <> 'not_worker'
    ORDER BY md5($seed || ':' || request_rid), request_rid
    LIMIT $n
)
SELECT a.request_rid AS evidence_id, a.event_time, a.login, a.host,
       a.dag_id || ' / ' || a.task_id || ' / ' || a.try_number AS "dag / task / try", a.status,
       coalesce(w.source_file, z.source_file) || ':' || coalesce(w.source_line, z.source_line) AS "source file:line"
FROM picked a
LEFT JOIN zia_web w ON a.request_table = 'zia_web' AND w.rid = a.request_rid
LEFT JOIN zpa_user_activity z ON a.request_table = 'zpa_user_activity' AND z.rid = a.request_rid
ORDER BY md5($seed || ':' || a.request_rid), a.request_rid;
