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
-- every worker): the requests less the refusals that are Airflow's own, then the gaps as findings.
-- reads: zpa_user_status, im_logins, _attempts, airflow_log_lines, task_egress_hints, _attr, zia_web, im_workers, _found
-- creates: _token_requests
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
-- The requests of the gaps, less the refusals that are Airflow's own execution-API token, not
-- Zscaler's (rules.toml [airflow_token], docs/findings.md): a refused ZIA request whose URL path has
-- /execution/ (Airflow's Task Execution API), or one to a host the attempt's log addresses under
-- /execution/ while that log reports the execution API refusing its token. They never become
-- token_gap findings. Only the logs of attempts with a refused request are searched (none on most
-- nights: the log lines are then not read at all).
CREATE OR REPLACE TEMP TABLE _token_requests AS
WITH refused AS (
    SELECT r.rn, r.rid, r.request_kind, r.aidx, r.host FROM _token_rows r WHERE r.refused
), scope AS (
    SELECT attempt_id, aidx FROM _attempts
    WHERE start_time < $until AND end_time >= $since AND aidx IN (SELECT aidx FROM refused)
), failing AS (
    SELECT DISTINCT l.attempt_id FROM airflow_log_lines l
    WHERE l.attempt_id IN (SELECT attempt_id FROM scope)
      AND regexp_matches(coalesce(l.message, '') || ' ' || coalesce(l.detail, ''), $airflow_token_regex)
), api_hosts AS (
    SELECT DISTINCT s.aidx, lower(h.host) AS host
    FROM task_egress_hints h JOIN scope s USING (attempt_id)
    WHERE h.url LIKE '%/execution/%' AND h.attempt_id IN (SELECT attempt_id FROM failing)
), airflow_token_refusals AS (
    SELECT r.rn FROM refused r
    JOIN zia_web w ON w.rid = r.rid AND r.request_kind = 0   -- a ZIA web request
    WHERE w.url LIKE '%/execution/%'
    UNION
    SELECT r.rn FROM refused r JOIN api_hosts a ON a.aidx = r.aidx AND a.host = r.host
)
SELECT r.rid, r.event_time, r.login, lower(r.login) AS login_l, r.host, w.worker, a.attempt_id, r.refused,
       r.gap_start, r.gap_end
FROM _token_rows r
LEFT JOIN _attempts a ON a.aidx = r.aidx
LEFT JOIN im_workers w ON w.widx = r.widx
WHERE r.rn NOT IN (SELECT rn FROM airflow_token_refusals);

-- skip when empty: _token_requests
-- (a group's attempts and workers as distinct lists, not count(DISTINCT ...): each DISTINCT
-- aggregate is a hash table of its own, a fixed cost per statement whatever the rows)
INSERT INTO _found
SELECT 'token_gap', 'no_session',
       concat_ws('|', 'no_session', g.login_l, coalesce(strftime(g.gap_start AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ'), 'start')),
       g.first_time, CASE WHEN len(g.attempts) = 1 THEN g.attempts[1] END,
       CASE WHEN len(g.workers) = 1 THEN g.workers[1] END, g.login, g.host, NULL,
       g.n || ' request(s) by ' || g.login || ' with no valid token: '
         || coalesce('last session ended ' || strftime(g.gap_start AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'), 'no earlier session')
         || ', ' || coalesce('next began ' || strftime(g.gap_end AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'), 'no later session')
         || '; ' || len(g.attempts) || ' attempt(s) hit',
       g.rids, g.n, g.gap_start, g.gap_end, CASE WHEN len(g.attempts) > 0 THEN g.attempts END
FROM (
    SELECT login_l, gap_start, min(gap_end) AS gap_end, min(event_time) AS first_time, min(login) AS login,
           top_value(histogram(host)) AS host, count(*) AS n, list(rid ORDER BY event_time, rid)[1:1000] AS rids,
           list_sort(list_distinct(list(attempt_id))) AS attempts, list_distinct(list(worker)) AS workers
    FROM _token_requests
    WHERE NOT refused
    GROUP BY login_l, gap_start
) g;

-- skip when empty: _token_requests
INSERT INTO _found
SELECT 'token_gap', 'refused',
       concat_ws('|', 'refused', g.key, strftime(g.first_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')),
       g.first_time, CASE WHEN len(g.attempts) = 1 THEN g.attempts[1] END,
       CASE WHEN len(g.workers) = 1 THEN g.workers[1] END, g.login, g.host, NULL,
       g.n || ' request(s) refused by Zscaler for authentication between '
         || strftime(g.first_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') || ' and ' || strftime(g.last_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
         || '; ' || len(g.attempts) || ' attempt(s) hit',
       g.rids, g.n, g.first_time, g.last_time, CASE WHEN len(g.attempts) > 0 THEN g.attempts END
FROM (
    SELECT key, min(event_time) AS first_time, max(event_time) AS last_time, min(login) AS login,
           top_value(histogram(host)) AS host, count(*) AS n, list(rid ORDER BY event_time, rid)[1:1000] AS rids,
           list_sort(list_distinct(list(attempt_id))) AS attempts, list_distinct(list(worker)) AS workers
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
    GROUP BY key, run
) g;
