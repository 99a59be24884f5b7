-- unmapped_identity, four subtypes:
--   unknown_login  worker traffic whose login (an e-mail/UPN) belongs to no service account
--   no_identity    worker traffic with no authenticated user (no login, a location name as login,
--                  ZPA special users): Zscaler could not tell who sent it
--   dag_not_allowed a service-account login used by an attempt whose DAG its `dags` globs don't allow
--   conn_unlisted  an attempt used an Airflow connection that no service account lists
INSERT INTO _found
SELECT 'unmapped_identity', subtype,
       concat_ws('|', subtype, coalesce(attempt_id, 'worker:' || worker), coalesce(login_l, '')),
       min(event_time), attempt_id, worker, min(login), mode(host), NULL,
       CASE subtype
         WHEN 'unknown_login' THEN 'login ' || min(login) || ' belongs to no service account; '
         ELSE 'no authenticated user (login ' || coalesce(min(login), 'empty') || '); '
       END || count(*) || ' request(s) from worker ' || worker
         || CASE WHEN attempt_id IS NULL THEN ' not tied to one attempt' ELSE '' END,
       list(rid ORDER BY event_time, rid)[1:1000], count(*), NULL, NULL, NULL
FROM (
    SELECT r.rid, r.event_time, r.login, r.login_l, r.host, r.worker, t.attempt_id,
           CASE WHEN r.login IS NULL OR r.login NOT LIKE '%@%' OR r.login_l = lower(r.location)
                     OR r.login IN ('ZPA LSS Client', 'ZPA IP Anchoring')
                THEN 'no_identity' ELSE 'unknown_login' END AS subtype
    FROM _requests r
    JOIN _attr t ON t.request_table = r.request_table AND t.rid = r.rid
    WHERE r.sa IS NULL AND r.worker IS NOT NULL AND r.in_period
)
GROUP BY subtype, attempt_id, worker, login_l;

INSERT INTO _found
SELECT 'unmapped_identity', 'dag_not_allowed',
       concat_ws('|', 'dag_not_allowed', t.attempt_id, r.login_l),
       min(r.event_time), t.attempt_id, min(r.worker), min(r.login), mode(r.host), NULL,
       'login ' || min(r.login) || ' (service account ' || r.sa || ') used by DAG ' || min(a.dag_id)
         || ', which its dags globs do not allow; ' || count(*) || ' request(s)',
       list(r.rid ORDER BY r.event_time, r.rid)[1:1000], count(*), NULL, NULL, NULL
FROM _requests r
JOIN _attr t ON t.request_table = r.request_table AND t.rid = r.rid AND t.status = 'attributed'
JOIN _attempts a ON a.attempt_id = t.attempt_id
WHERE r.sa IS NOT NULL AND r.in_period
  AND NOT EXISTS (SELECT 1 FROM im_dags d WHERE d.sa = r.sa AND a.dag_id GLOB d.pattern)
GROUP BY t.attempt_id, r.login_l, r.sa;

INSERT INTO _found
SELECT 'unmapped_identity', 'conn_unlisted',
       concat_ws('|', 'conn_unlisted', c.attempt_id, c.conn_id),
       min(c.event_time), c.attempt_id, min(a.worker), NULL, NULL, c.conn_id,
       'connection ' || c.conn_id || ' is listed by no service account',
       list(DISTINCT 'airflow:' || c.attempt_id || ':' || coalesce(c.source_line, 0))[1:1000], count(*),
       NULL, NULL, NULL
FROM task_connections c
JOIN _attempts a ON a.attempt_id = c.attempt_id
WHERE c.conn_id NOT IN (SELECT conn_id FROM im_conns)
  AND a.start_time < $until AND a.end_time >= $since
GROUP BY c.attempt_id, c.conn_id;
