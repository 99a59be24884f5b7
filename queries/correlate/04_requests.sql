-- Worker traffic: ZIA web requests and ZPA user-activity records whose device hostname or client
-- IP belongs to a mapped worker, or whose login belongs to a service account. Loaded for the
-- period widened to the windows of the attempts in scope; `in_period` marks the period itself.
-- Keys are integers (widx worker, lidx service-account login, hidx logged host, pk partition; the
-- request's table as request_kind: 0 zia_web, 1 zpa_user_activity, the code attribution_rows stores)
-- and the outcome is kept as three flags (rules.toml [auth], [failure]) so the table stays narrow.
-- reads: im_worker_names, im_worker_ips, zia_web, zpa_user_activity, im_logins, _attempt_hosts
-- creates: _requests
CREATE OR REPLACE TEMP TABLE _requests AS
WITH names AS (
    SELECT name, min(widx) AS widx FROM im_worker_names GROUP BY name
), ips AS (
    SELECT ip, min(widx) AS widx FROM im_worker_ips GROUP BY ip
), hosts AS (   -- the logged hosts' numbers (03_attempt_hosts)
    SELECT DISTINCT host, hidx FROM _attempt_hosts
), raw AS (
    SELECT CAST(0 AS UTINYINT) AS request_kind, rid, event_time, nullif(trim(login), '') AS login,
           lower(nullif(device_hostname, '')) AS dev, nullif(client_ip, '') AS ip, location,
           CASE WHEN host IS NULL OR host = ''
                THEN regexp_extract(url, '^(?:[A-Za-z][A-Za-z0-9+.-]*://)?([^/?#]+)', 1) ELSE host END AS host_raw,
           action, response_code, reason, CAST(NULL AS VARCHAR) AS internal_reason
    FROM zia_web
    WHERE event_time >= $ext_since AND event_time < $ext_until
    UNION ALL
    SELECT CAST(1 AS UTINYINT), rid, event_time, nullif(trim(username), ''),
           lower(nullif(hostname, '')), nullif(client_private_ip, ''), NULL,
           nullif(host, ''), NULL, NULL, NULL, nullif(internal_reason, '')
    FROM zpa_user_activity
    WHERE event_time >= $ext_since AND event_time < $ext_until
), r AS (
    SELECT raw.*,
           coalesce(n1.widx, n2.widx) AS dev_w, ips.widx AS ip_w, l.lidx,
           lower(CASE WHEN host_raw LIKE '%:%' THEN regexp_replace(host_raw, ':[0-9]+$', '') ELSE host_raw END) AS host
    FROM raw
    LEFT JOIN names n1 ON n1.name = raw.dev
    LEFT JOIN names n2 ON n2.name = split_part(raw.dev, '.', 1)
    LEFT JOIN ips ON ips.ip = raw.ip
    LEFT JOIN im_logins l ON l.login = lower(raw.login)
    WHERE n1.widx IS NOT NULL OR n2.widx IS NOT NULL OR ips.widx IS NOT NULL OR l.lidx IS NOT NULL
)
SELECT request_kind, rid, event_time, login, r.host, lidx,
       coalesce(dev_w, ip_w) AS widx,
       hd.hidx,
       -- how the worker was found: 0 device, 1 ip, 2 login only (an integer: stored as a code, 10_store)
       CAST(CASE WHEN dev_w IS NOT NULL THEN 0 WHEN ip_w IS NOT NULL THEN 1 ELSE 2 END AS UTINYINT) AS method,
       coalesce(dev_w, ip_w, 1000000 + lidx) AS pk,
       event_time >= $since AND event_time < $until AS in_period,
       -- no authenticated user: no login, a location name as login, ZPA special users
       (login IS NULL OR login NOT LIKE '%@%' OR lower(login) = lower(location)) AS no_identity,
       CASE WHEN request_kind = 0
            THEN coalesce(list_contains($fail_actions, action), false)
                 OR coalesce(response_code >= $fail_min_code, false)
            ELSE coalesce(list_contains($zpa_fail_codes, internal_reason), false) END AS failed,
       CASE WHEN request_kind = 0
            THEN coalesce(list_contains($auth_codes, response_code), false)
                 OR coalesce(list_contains($auth_reasons, reason), false)
            ELSE coalesce(regexp_matches(internal_reason, $auth_regex), false) END AS refused
FROM r
LEFT JOIN hosts hd ON hd.host = r.host;
