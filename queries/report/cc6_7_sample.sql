-- CC6.7 sample: the $n ZIA web requests with the smallest md5('<seed>:' || rid), each as a test
-- record: observed = protocol, Zscaler's action and the CC6.7 findings naming the request; result
-- pass | deviation | accepted risk.
WITH picked AS (
    SELECT * FROM zia_web
    WHERE event_time >= $since AND event_time < $until
    ORDER BY md5($seed || ':' || rid), rid
    LIMIT $n
)
SELECT p.rid AS evidence_id, regexp_extract(p.source_file, '[^/\\]*$') || ':' || p.source_line AS source,
       p.event_time AS "time", p.login, p.request_method || ' ' || left(p.url, 120) AS request,
       p.response_code AS code,
       coalesce(p.protocol, '?') || ', ' || coalesce(p.action, '?') || coalesce('; ' || n.kinds, '') AS observed,
       sample_result(n.any_open, n.kinds, 'pass') AS result
FROM picked p
LEFT JOIN findings_naming('CC6.7') n ON n.id = p.rid
ORDER BY md5($seed || ':' || p.rid), p.rid;
