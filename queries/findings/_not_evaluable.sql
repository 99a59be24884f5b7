-- Checks that cannot be evaluated, with the reason: reported, never silently passed.
-- The per-request checks read what the rules' row stages selected (_token_unknown, _unattributed_rows).
-- reads: not_evaluable, findings, _attempts, _attempt_hosts, _token_unknown, _unattributed_rows, _coverage_missing, im_workers
DELETE FROM not_evaluable WHERE analysis_id = $analysis_id;

-- The attempt checks in one statement: egress_bypass (no host, or no logged host, to check) and
-- silent_failure (no final state to check).
INSERT INTO not_evaluable (check_kind, attempt_id, dag_id, run_id, task_id, map_index, try_number, login, reason, analysis_id)
SELECT 'egress_bypass', a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number, NULL,
       CASE WHEN a.worker IS NULL AND coalesce(a.hostname, '') = ''
                THEN 'no host known for the attempt (no hostname in its log, metadata DB or API export)'
            WHEN a.worker IS NULL
                THEN 'the attempt''s host ' || a.hostname || ' is not a [[worker]] in the identity map'
            ELSE 'the log names no outbound host (Airflow logs hook URLs only at DEBUG; see docs/findings.md)'
       END,
       $analysis_id
FROM _attempts a
WHERE a.start_time < $until AND a.end_time >= $since
  AND (a.worker IS NULL OR a.attempt_id NOT IN (SELECT attempt_id FROM _attempt_hosts))
UNION ALL
SELECT 'silent_failure', a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number, NULL,
       CASE WHEN a.state IS NULL OR a.state IN ('', 'unknown', 'none')
                THEN 'final state unknown (log cut off and no metadata for the attempt)'
            ELSE 'attempt not finished (state ' || a.state || ')' END,
       $analysis_id
FROM _attempts a
WHERE a.start_time < $until AND a.end_time >= $since
  AND (a.state IS NULL OR a.state IN ('', 'unknown', 'none', 'running', 'queued', 'scheduled',
                                       'restarting', 'deferred', 'up_for_reschedule'));

-- skip when empty: _token_unknown
INSERT INTO not_evaluable (check_kind, attempt_id, dag_id, run_id, task_id, map_index, try_number, login, reason, analysis_id)
SELECT 'token_gap', NULL, NULL, NULL, NULL, NULL, NULL, min(r.login),
       'no ZPA user status records for this service-account login: token validity unknown ('
         || sum(r.n) || ' request(s))',
       $analysis_id
FROM _token_unknown r
GROUP BY r.lidx;

-- egress_bypass while Zscaler delivered nothing (coverage_gap): the attempt's egress cannot be checked.
-- skip when empty: _coverage_missing
INSERT INTO not_evaluable (check_kind, attempt_id, dag_id, run_id, task_id, map_index, try_number, login, reason, analysis_id)
SELECT 'egress_bypass', a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number, NULL,
       'no Zscaler coverage during the attempt: ' || min(g.label) || ' delivered no record from '
         || strftime(min(g.s) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') || ' to '
         || strftime(max(g.e) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') || ' (coverage_gap)',
       $analysis_id
FROM _attempts a
JOIN _coverage_missing g ON g.side = 'zscaler' AND g.s < a.hi AND g.e > a.lo
WHERE a.start_time < $until AND a.end_time >= $since
  AND a.worker IS NOT NULL AND a.attempt_id IN (SELECT attempt_id FROM _attempt_hosts)
GROUP BY a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number;

-- unattributed_egress while Airflow delivered nothing (coverage_gap): no attempt could be known.
-- skip when empty: _coverage_missing
INSERT INTO not_evaluable (check_kind, attempt_id, dag_id, run_id, task_id, map_index, try_number, login, reason, analysis_id)
SELECT 'unattributed_egress', NULL, NULL, NULL, NULL, NULL, NULL, min(r.login),
       count(*) || ' request(s) from ' || coalesce('worker ' || min(w.worker), 'login ' || min(r.login))
         || ' while ' || g.label || ' delivered no record (' || strftime(g.s AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
         || ' to ' || strftime(g.e AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') || ', coverage_gap)',
       $analysis_id
FROM _unattributed_rows r
JOIN _coverage_missing g ON g.side = 'airflow' AND r.event_time >= g.s AND r.event_time < g.e
LEFT JOIN im_workers w ON w.widx = r.widx
GROUP BY r.pk, g.s, g.e, g.label;
