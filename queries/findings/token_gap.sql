-- token_gap, two subtypes:
--   no_session  a request by a service-account login at a moment no authenticated ZPA session of
--               that login covered (a session is valid from its authentication until it was
--               unauthenticated or token_lifetime later, whichever is first; overlapping sessions
--               merge). The gap runs from the end of the last valid session to the next one.
--   refused     requests Zscaler refused for authentication (rules.toml [auth]); consecutive
--               refusals of one login less than token_lifetime apart form one gap.
-- Logins without any ZPA user status are not evaluable for no_session (see _not_evaluable.sql).
-- Setup (from the store): each login's sessions merged into islands. Row stage (wherever _attr is:
-- each Spark task): the requests in a gap, placed against the islands alone, and the requests of
-- logins with no status, counted. Group stage (once over all of them: a login's requests come from
-- every worker): the refusals that are Airflow's own, then the gaps as findings.
-- reads: zpa_user_status, im_logins, _attempts, airflow_log_lines, task_egress_hints, _attr, zia_web, im_workers, _found
-- creates: _airflow_token_refusals, _token_requests
-- hands on: _token_islands, _token_rows, _token_unknown
CREATE OR REPLACE TEMP TABLE _token_islands AS
WITH st AS (
    SELECT l.lidx, coalesce(s.session_id, '') AS session_id, s.authenticated_at, s.unauthenticated_at
    FROM zpa_user_status s
    JOIN im_logins l ON l.login = lower(s.username)
), sessions AS (
    SELECT a.lidx, a.session_id, a.authenticated_at AS s,
           least(a.authenticated_at + $lifetime,
                 coalesce(min(u.unauthenticated_at), a.authenticated_at + $lifetime)) AS e
    FROM (SELECT DISTINCT lidx, session_id, authenticated_at FROM st WHERE authenticated_at IS NOT NULL) a
    LEFT JOIN st u ON u.lidx = a.lidx AND u.session_id = a.session_id
                  AND u.unauthenticated_at IS NOT NULL AND u.unauthenticated_at >= a.authenticated_at
    GROUP BY a.lidx, a.session_id, a.authenticated_at
), marked AS (
    SELECT lidx, s, e,
           CASE WHEN s > max(e) OVER (PARTITION BY lidx ORDER BY s, e
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 1 ELSE 0 END AS brk
    FROM sessions
), grouped AS (
    SELECT lidx, s, e, sum(brk) OVER (PARTITION BY lidx ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS gid
    FROM marked
), islands AS (
    SELECT lidx, min(s) AS s, max(e) AS e FROM grouped GROUP BY lidx, gid
)
SELECT lidx, s, e, lead(s) OVER (PARTITION BY lidx ORDER BY s) AS next_s FROM islands;

-- stage: rows
-- Requests in a gap (few): service-account requests no island covers, plus refusals.
CREATE OR REPLACE TEMP TABLE _token_rows AS
WITH uncovered AS (
    SELECT q.rn, i.e AS gap_start, i.next_s AS gap_end
    FROM (SELECT rn, lidx, event_time FROM _attr
          WHERE in_period AND NOT refused AND lidx IN (SELECT lidx FROM _token_islands)) q
    ASOF LEFT JOIN _token_islands i ON i.lidx = q.lidx AND q.event_time + $skew >= i.s
    WHERE i.s IS NULL OR q.event_time - $skew > i.e
), picked AS (
    SELECT rn, NULL::TIMESTAMPTZ AS gap_start, NULL::TIMESTAMPTZ AS gap_end FROM _attr
    WHERE in_period AND refused
    UNION ALL
    SELECT rn, gap_start, gap_end FROM uncovered
)
SELECT r.rn, r.rid, r.request_kind, r.event_time, r.login, r.host, r.widx, r.aidx, r.refused, p.gap_start, p.gap_end
FROM picked p
JOIN _attr r ON r.rn = p.rn;

-- Service-account requests of logins with no ZPA user status at all (not evaluable), counted.
CREATE OR REPLACE TEMP TABLE _token_unknown AS
SELECT lidx, min(login) AS login, count(*) AS n FROM _attr
WHERE lidx IS NOT NULL AND in_period AND lidx NOT IN (SELECT lidx FROM _token_islands)
GROUP BY lidx;

-- stage: group
-- Refusals that are Airflow's own execution-API token, not Zscaler's (rules.toml [airflow_token],
-- docs/findings.md): a refused ZIA request whose URL path has /execution/ (Airflow's Task Execution
-- API), or one to a host the attempt's log addresses under /execution/ while that log reports the
-- execution API refusing its token. They never become token_gap findings.
CREATE OR REPLACE TEMP TABLE _airflow_token_refusals AS
WITH scope AS (
    SELECT attempt_id, aidx FROM _attempts WHERE start_time < $until AND end_time >= $since
), failing AS (
    SELECT DISTINCT l.attempt_id FROM airflow_log_lines l
    WHERE l.attempt_id IN (SELECT attempt_id FROM scope)
      AND regexp_matches(coalesce(l.message, '') || ' ' || coalesce(l.detail, ''), $airflow_token_regex)
), api_hosts AS (
    SELECT DISTINCT s.aidx, lower(h.host) AS host
    FROM task_egress_hints h JOIN scope s USING (attempt_id)
    WHERE h.url LIKE '%/execution/%' AND h.attempt_id IN (SELECT attempt_id FROM failing)
), refused AS (
    SELECT r.rn, r.rid, r.request_kind, r.aidx, r.host FROM _token_rows r WHERE r.refused
)
SELECT r.rn FROM refused r
JOIN zia_web w ON w.rid = r.rid AND r.request_kind = 0   -- a ZIA web request
WHERE w.url LIKE '%/execution/%'
UNION
SELECT r.rn FROM refused r JOIN api_hosts a ON a.aidx = r.aidx AND a.host = r.host;

CREATE OR REPLACE TEMP TABLE _token_requests AS
SELECT r.rid, r.event_time, r.login, lower(r.login) AS login_l, r.host, w.worker, a.attempt_id, r.refused,
       r.gap_start, r.gap_end
FROM _token_rows r
LEFT JOIN _attempts a ON a.aidx = r.aidx
LEFT JOIN im_workers w ON w.widx = r.widx
WHERE r.rn NOT IN (SELECT rn FROM _airflow_token_refusals);

-- skip when empty: _token_requests
INSERT INTO _found
SELECT 'token_gap', 'no_session',
       concat_ws('|', 'no_session', g.login_l, coalesce(strftime(g.gap_start AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ'), 'start')),
       min(g.event_time), CASE WHEN count(DISTINCT g.attempt_id) = 1 THEN min(g.attempt_id) END,
       CASE WHEN count(DISTINCT g.worker) = 1 THEN min(g.worker) END, min(g.login), top_value(histogram(g.host)), NULL,
       count(*) || ' request(s) by ' || min(g.login) || ' with no valid token: '
         || coalesce('last session ended ' || strftime(min(g.gap_start) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'), 'no earlier session')
         || ', ' || coalesce('next began ' || strftime(min(g.gap_end) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'), 'no later session')
         || '; ' || count(DISTINCT g.attempt_id) || ' attempt(s) hit',
       list(g.rid ORDER BY g.event_time, g.rid)[1:1000], count(*),
       min(g.gap_start), min(g.gap_end),
       list(DISTINCT g.attempt_id ORDER BY g.attempt_id) FILTER (WHERE g.attempt_id IS NOT NULL)
FROM _token_requests g
WHERE NOT g.refused
GROUP BY g.login_l, g.gap_start;

-- skip when empty: _token_requests
INSERT INTO _found
SELECT 'token_gap', 'refused',
       concat_ws('|', 'refused', key, strftime(min(event_time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')),
       min(event_time), CASE WHEN count(DISTINCT attempt_id) = 1 THEN min(attempt_id) END,
       CASE WHEN count(DISTINCT worker) = 1 THEN min(worker) END, min(login), top_value(histogram(host)), NULL,
       count(*) || ' request(s) refused by Zscaler for authentication between '
         || strftime(min(event_time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') || ' and ' || strftime(max(event_time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
         || '; ' || count(DISTINCT attempt_id) || ' attempt(s) hit',
       list(rid ORDER BY event_time, rid)[1:1000], count(*),
       min(event_time), max(event_time),
       list(DISTINCT attempt_id ORDER BY attempt_id) FILTER (WHERE attempt_id IS NOT NULL)
FROM (
    SELECT *, sum(brk) OVER (PARTITION BY key ORDER BY event_time, rid ROWS UNBOUNDED PRECEDING) AS run
    FROM (
        SELECT *, coalesce(login_l, 'w:' || worker) AS key,
               CASE WHEN event_time - lag(event_time) OVER (PARTITION BY coalesce(login_l, 'w:' || worker)
                                                            ORDER BY event_time, rid) <= $lifetime
                    THEN 0 ELSE 1 END AS brk
        FROM _token_requests WHERE refused
    )
)
GROUP BY key, run;
