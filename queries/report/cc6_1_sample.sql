-- CC6.1 sample: the $n worker requests with the smallest md5('<seed>:' || request id), each as a
-- test record: observed = the CC6.1 findings that name the request; result pass | deviation |
-- accepted risk | not evaluable (not tied to one attempt, so its login cannot be checked against a DAG).
-- Re-draw it from evidence/attributed_requests.parquet with the same rule and seed.
WITH picked AS (
    SELECT * FROM attributions
    WHERE event_time >= $since AND event_time < $until AND status <> 'not_worker'
    ORDER BY md5($seed || ':' || request_rid), request_rid
    LIMIT $n
), named AS (
    SELECT e.id, string_agg(f.kind || ' (' || f.status || ')', ', ' ORDER BY f.kind) AS kinds,
           bool_or(f.status <> 'accepted') AS any_open
    FROM findings f, unnest(f.evidence_ids) AS e(id)
    WHERE list_contains(f.controls, 'CC6.1') AND e.id IN (SELECT request_rid FROM picked)
    GROUP BY e.id
)
SELECT a.request_rid AS evidence_id,
       regexp_extract(coalesce(w.source_file, z.source_file), '[^/\\]*$') || ':'
           || coalesce(w.source_line, z.source_line) AS source,
       a.event_time AS "time", a.login, a.host,
       a.dag_id || ' / ' || a.task_id || ' / ' || a.try_number AS "dag / task / try",
       CASE WHEN n.kinds IS NOT NULL THEN n.kinds
            WHEN a.status = 'attributed' THEN 'attributed; login granted to ' || a.dag_id
            ELSE a.status || ': no single attempt' END AS observed,
       CASE WHEN n.any_open THEN 'deviation' WHEN n.kinds IS NOT NULL THEN 'accepted risk'
            WHEN a.status = 'attributed' THEN 'pass' ELSE 'not evaluable' END AS result
FROM picked a
LEFT JOIN named n ON n.id = a.request_rid
LEFT JOIN zia_web w ON a.request_table = 'zia_web' AND w.rid = a.request_rid
LEFT JOIN zpa_user_activity z ON a.request_table = 'zpa_user_activity' AND z.rid = a.request_rid
ORDER BY md5($seed || ':' || a.request_rid), a.request_rid;
