-- CC6.7 sample: the $n ZIA web requests with the smallest md5('<seed>:' || rid), each as a test
-- record: observed = protocol, Zscaler's action and the CC6.7 findings naming the request; result
-- pass | deviation | accepted risk.
WITH picked AS (
    SELECT * FROM zia_web
    WHERE event_time >= $since AND event_time < $until
    ORDER BY md5($seed || ':' || rid), rid
    LIMIT $n
), named AS (
    SELECT e.id, string_agg(f.kind || ' (' || f.status || ')', ', ' ORDER BY f.kind) AS kinds,
           bool_or(f.status <> 'accepted') AS any_open
    FROM findings f, unnest(f.evidence_ids) AS e(id)
    WHERE list_contains(f.controls, 'CC6.7') AND e.id IN (SELECT rid FROM picked)
    GROUP BY e.id
)
SELECT p.rid AS evidence_id, regexp_extract(p.source_file, '[^/\\]*$') || ':' || p.source_line AS source,
       p.event_time AS "time", p.login, p.request_method || ' ' || left(p.url, 120) AS request,
       p.response_code AS code,
       coalesce(p.protocol, '?') || ', ' || coalesce(p.action, '?') || coalesce('; ' || n.kinds, '') AS observed,
       CASE WHEN n.any_open THEN 'deviation' WHEN n.kinds IS NOT NULL THEN 'accepted risk' ELSE 'pass' END AS result
FROM picked p
LEFT JOIN named n ON n.id = p.rid
ORDER BY md5($seed || ':' || p.rid), p.rid;
