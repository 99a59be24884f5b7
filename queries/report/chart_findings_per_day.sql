-- Chart: findings per UTC day (or hour, when $bucket = 'hour') by severity.
SELECT date_trunc($bucket, event_time) AS bucket, severity, count(*) AS findings
FROM findings
WHERE event_time >= $since AND event_time < $until
GROUP BY ALL
ORDER BY bucket, severity;
