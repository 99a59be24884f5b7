-- CC6.7 sample: the $n ZIA web requests with the smallest md5('<seed>:' || rid).
SELECT rid AS evidence_id, event_time, login, request_method AS method, left(url, 120) AS url, protocol,
       action, response_code AS code, source_file || ':' || source_line AS "source file:line"
FROM zia_web
WHERE event_time >= $since AND event_time < $until
ORDER BY md5($seed || ':' || rid), rid
LIMIT $n;
