-- CC6.1 sample: the $n worker requests with the smallest md5('<seed>:' || request id), each as a
-- test record: observed = the CC6.1 findings that name the request; result pass | deviation |
-- accepted risk | not evaluable (not tied to one attempt, so its login cannot be checked against a DAG).
-- Re-draw it from evidence/attributed_requests.parquet with the same rule and seed.
WITH picked AS (
    SELECT * FROM attributions
    WHERE event_time >= $since AND event_time < $until AND status <> 'not_worker'
    ORDER BY md5($seed || ':' || request_rid), request_rid
    LIMIT $n
)
SELECT a.request_rid AS evidence_id,
       regexp_extract(coalesce(w.source_file, z.source_file), '[^/\\]*$') || ':'
           || coalesce(w.source_line, z.source_line) AS source,
       a.event_time AS "time", a.login, a.host,
       a.dag_id || ' / ' || a.task_id || ' / ' || a.try_number AS "dag / task / try",
       CASE WHEN n.kinds IS NOT NULL THEN n.kinds
            WHEN a.status = 'attributed' THEN 'attributed; login granted to ' || a.dag_id
            ELSE a.status || ': no single attempt' END AS observed,
       sample_result(n.any_open, n.kinds, CASE WHEN a.status = 'attributed' THEN 'pass' ELSE 'not evaluable' END) AS result
FROM picked a
LEFT JOIN findings_naming('CC6.1') n ON n.id = a.request_rid
LEFT JOIN zia_web w ON a.request_table = 'zia_web' AND w.rid = a.request_rid
LEFT JOIN zpa_user_activity z ON a.request_table = 'zpa_user_activity' AND z.rid = a.request_rid
ORDER BY md5($seed || ':' || a.request_rid), a.request_rid;
