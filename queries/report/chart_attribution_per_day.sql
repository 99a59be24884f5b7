-- Chart: attribution status of worker requests per UTC day (or hour when $bucket = 'hour').
SELECT date_trunc($bucket, event_time) AS bucket, status, count(*) AS requests
FROM attributions
WHERE event_time >= $since AND event_time < $until AND status <> 'not_worker'
GROUP BY ALL
ORDER BY bucket, status;
