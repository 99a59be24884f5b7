-- unmapped_identity, four subtypes:
--   unknown_login   worker traffic whose login (an e-mail/UPN) belongs to no service account
--   no_identity     worker traffic with no authenticated user (no login, a location name as login,
--                   ZPA special users): Zscaler could not tell who sent it
--   dag_not_allowed a service-account login used by an attempt whose DAG its `dags` globs don't allow
--   conn_unlisted   an attempt used an Airflow connection that no service account lists
--   host_not_allowed a service-account login reached a host that none of its allowed_hosts globs
--                   match (accounts that list no allowed_hosts are not checked)
-- Row stage (wherever _attr is: each Spark task): the requests each subtype groups, selected row by
-- row (a (login, host) pair is tested against the login's allowed_hosts alone). Group stage (once
-- over all of them): an attempt's requests may come from its worker's and its logins' partitions.
-- reads: _found, _attr, im_workers, _attempts, im_logins, im_dags, task_connections, im_conns, im_hosts
-- hands on: _unmapped_rows, _via_rows, _host_rows
-- stage: rows
-- worker traffic of no service-account login (unknown_login, no_identity)
CREATE OR REPLACE TEMP TABLE _unmapped_rows AS
SELECT no_identity, aidx, widx, login, host, event_time, rid FROM _attr
WHERE lidx IS NULL AND widx IS NOT NULL AND in_period;

-- service-account requests attributed via 'all'/'host': the attempt the request went to may not
-- carry its login (see 09_attribute) (dag_not_allowed)
CREATE OR REPLACE TEMP TABLE _via_rows AS
SELECT aidx, login, lidx, widx, host, event_time, rid FROM _attr
WHERE lidx IS NOT NULL AND in_period AND status = 'attributed' AND via IN ('all', 'host');

-- service-account requests to a host the login's allowed_hosts globs miss (host_not_allowed)
CREATE OR REPLACE TEMP TABLE _host_rows AS
SELECT CASE WHEN r.status = 'attributed' THEN r.aidx END AS aidx, r.widx, b.sa, lower(r.login) AS login_l,
       r.host, r.login, r.event_time, r.rid
FROM _attr r
JOIN (
    -- the (login, host) pairs its allowed_hosts globs miss, tested once per distinct pair
    SELECT p.lidx, p.host, l.sa
    FROM (SELECT DISTINCT lidx, host FROM _attr
          WHERE in_period AND lidx IS NOT NULL AND host IS NOT NULL AND host <> '') p
    JOIN im_logins l ON l.lidx = p.lidx
    WHERE EXISTS (SELECT 1 FROM im_hosts h WHERE h.sa = l.sa)
      AND NOT EXISTS (SELECT 1 FROM im_hosts h WHERE h.sa = l.sa AND p.host GLOB h.pattern)
) b ON b.lidx = r.lidx AND b.host = r.host
WHERE r.in_period;

-- stage: group
-- skip when empty: _unmapped_rows
INSERT INTO _found
SELECT 'unmapped_identity', g.subtype,
       concat_ws('|', g.subtype, coalesce(a.attempt_id, 'worker:' || w.worker), coalesce(g.login_l, '')),
       g.first_time, a.attempt_id, w.worker, g.login, g.host, NULL,
       CASE g.subtype
         WHEN 'unknown_login' THEN 'login ' || g.login || ' belongs to no service account; '
         ELSE 'no authenticated user (login ' || coalesce(g.login, 'empty') || '); '
       END || g.n || ' request(s) from worker ' || w.worker
         || CASE WHEN g.aidx IS NULL THEN ' not tied to one attempt' ELSE '' END,
       g.rids, g.n, NULL, NULL, NULL
FROM (
    -- grouped as the key is made (attempt, else worker; login): one attempt seen from two workers is one finding
    SELECT CASE WHEN no_identity THEN 'no_identity' ELSE 'unknown_login' END AS subtype,
           aidx, min(widx) AS widx, lower(login) AS login_l, min(login) AS login, top_value(histogram(host)) AS host, min(event_time) AS first_time,
           list(rid ORDER BY event_time, rid)[1:1000] AS rids, count(*) AS n
    FROM _unmapped_rows
    GROUP BY 1, aidx, CASE WHEN aidx IS NULL THEN widx END, lower(login)
) g
JOIN im_workers w ON w.widx = g.widx
LEFT JOIN _attempts a ON a.aidx = g.aidx;

-- skip when empty: _via_rows
INSERT INTO _found
SELECT 'unmapped_identity', 'dag_not_allowed',
       concat_ws('|', 'dag_not_allowed', a.attempt_id, g.login_l),
       g.first_time, a.attempt_id, (SELECT w.worker FROM im_workers w WHERE w.widx = g.widx), g.login, g.host, NULL,
       'login ' || g.login || ' (service account ' || l.sa || ') used by DAG ' || a.dag_id
         || ', which its dags globs do not allow; ' || g.n || ' request(s)',
       g.rids, g.n, NULL, NULL, NULL
FROM (
    SELECT r.aidx, lower(r.login) AS login_l, r.lidx, min(r.login) AS login, min(r.widx) AS widx, top_value(histogram(r.host)) AS host,
           min(r.event_time) AS first_time, list(r.rid ORDER BY r.event_time, r.rid)[1:1000] AS rids, count(*) AS n
    FROM _via_rows r
    GROUP BY r.aidx, lower(r.login), r.lidx
) g
JOIN _attempts a ON a.aidx = g.aidx
JOIN im_logins l ON l.lidx = g.lidx
WHERE NOT EXISTS (SELECT 1 FROM im_dags d WHERE d.sa = l.sa AND a.dag_id GLOB d.pattern);

INSERT INTO _found
SELECT 'unmapped_identity', 'conn_unlisted',
       concat_ws('|', 'conn_unlisted', c.attempt_id, c.conn_id),
       min(c.event_time), c.attempt_id, min(a.worker), NULL, NULL, c.conn_id,
       'connection ' || c.conn_id || ' is listed by no service account',
       list(DISTINCT 'airflow:' || c.attempt_id || ':' || coalesce(c.source_line, 0)
            ORDER BY 'airflow:' || c.attempt_id || ':' || coalesce(c.source_line, 0))[1:1000], count(*),
       NULL, NULL, NULL
FROM task_connections c
JOIN _attempts a ON a.attempt_id = c.attempt_id
WHERE c.conn_id NOT IN (SELECT conn_id FROM im_conns)
  AND a.start_time < $until AND a.end_time >= $since
GROUP BY c.attempt_id, c.conn_id;

-- skip when empty: _host_rows
INSERT INTO _found
SELECT 'unmapped_identity', 'host_not_allowed',
       concat_ws('|', 'host_not_allowed', coalesce(a.attempt_id, 'worker:' || coalesce(w.worker, '')), g.login_l, g.host),
       g.first_time, a.attempt_id, w.worker, g.login, g.host, NULL,
       'login ' || g.login || ' (service account ' || g.sa || ') reached ' || g.host
         || ', which its allowed_hosts do not list; ' || g.n || ' request(s)'
         || CASE WHEN g.aidx IS NULL THEN ' not tied to one attempt' ELSE '' END,
       g.rids, g.n, NULL, NULL, NULL
FROM (
    -- grouped as the finding's key is made (attempt, else worker; login; host): requests of one
    -- attempt seen from several workers or none are one finding, its worker the attempt's
    SELECT aidx, min(widx) AS widx, sa, login_l, host, min(login) AS login, min(event_time) AS first_time,
           list(rid ORDER BY event_time, rid)[1:1000] AS rids, count(*) AS n
    FROM _host_rows
    GROUP BY aidx, CASE WHEN aidx IS NULL THEN widx END, sa, login_l, host
) g
LEFT JOIN im_workers w ON w.widx = g.widx
LEFT JOIN _attempts a ON a.aidx = g.aidx;
