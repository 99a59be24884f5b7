-- Worker traffic: ZIA web requests and ZPA user-activity records whose device hostname or client
-- IP belongs to a mapped worker, or whose login belongs to a service account. Loaded for the
-- period widened to the windows of the attempts in scope; `in_period` marks the period itself.
CREATE OR REPLACE TEMP TABLE _requests AS
WITH names AS (
    SELECT name, min(worker) AS worker FROM im_worker_names GROUP BY name
), ips AS (
    SELECT ip, min(worker) AS worker FROM im_worker_ips GROUP BY ip
), raw AS (
    SELECT 'zia_web' AS request_table, rid, event_time, nullif(trim(login), '') AS login,
           lower(nullif(device_hostname, '')) AS dev, nullif(client_ip, '') AS ip, location,
           coalesce(nullif(host, ''), regexp_extract(url, '^(?:[A-Za-z][A-Za-z0-9+.-]*://)?([^/?#]+)', 1)) AS host_raw,
           action, response_code, reason, CAST(NULL AS VARCHAR) AS internal_reason
    FROM zia_web
    WHERE event_time >= $ext_since AND event_time < $ext_until
    UNION ALL
    SELECT 'zpa_user_activity', rid, event_time, nullif(trim(username), ''),
           lower(nullif(hostname, '')), nullif(client_private_ip, ''), NULL,
           nullif(host, ''), connection_status, NULL, NULL, nullif(internal_reason, '')
    FROM zpa_user_activity
    WHERE event_time >= $ext_since AND event_time < $ext_until
), r AS (
    SELECT raw.*, lower(raw.login) AS login_l,
           lower(regexp_replace(host_raw, ':[0-9]+$', '')) AS host,
           coalesce(n1.worker, n2.worker) AS dev_worker,
           ips.worker AS ip_worker,
           sa.sa AS sa
    FROM raw
    LEFT JOIN names n1 ON n1.name = raw.dev
    LEFT JOIN names n2 ON n2.name = split_part(raw.dev, '.', 1)
    LEFT JOIN ips ON ips.ip = raw.ip
    LEFT JOIN im_logins sa ON sa.login = lower(raw.login)
)
SELECT request_table, rid, event_time, login, login_l, host, location, action, response_code, reason,
       internal_reason, sa,
       coalesce(dev_worker, ip_worker) AS worker,
       CASE WHEN dev_worker IS NOT NULL THEN 'device' WHEN ip_worker IS NOT NULL THEN 'ip' ELSE 'login' END AS method,
       CASE WHEN coalesce(dev_worker, ip_worker) IS NOT NULL THEN 'w:' || coalesce(dev_worker, ip_worker)
            ELSE 'l:' || lower(login) END AS pk,
       event_time >= $since AND event_time < $until AS in_period
FROM r
WHERE dev_worker IS NOT NULL OR ip_worker IS NOT NULL OR sa IS NOT NULL;
