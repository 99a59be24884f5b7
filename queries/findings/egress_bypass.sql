-- egress_bypass: a host an attempt's log named with no Zscaler record from its worker for that
-- host during the attempt (window widened by clock_skew). ASOF finds the first record of the
-- (worker, host) at or after the window start; none, or one after the window end, is a bypass.
-- Attempts whose window overlaps a stretch without Zscaler coverage (_coverage_missing,
-- from coverage_gap.sql) are not evaluable (_not_evaluable.sql): the missing feed, not the task, is the finding.
-- reads: _found, _attempt_hosts, _attempts, _coverage_missing, _attr
INSERT INTO _found
SELECT 'egress_bypass', 'no_zscaler_record', concat_ws('|', h.attempt_id, h.host),
       h.first_time, h.attempt_id, h.worker, NULL, h.host, NULL,
       'log names ' || h.host || ' (' || h.mentions || ' mention(s)) but no Zscaler record from worker '
         || h.worker || ' shows it between ' || strftime(h.lo AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') || ' and '
         || strftime(h.hi AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'),
       ['airflow:' || h.attempt_id || ':' || coalesce(h.source_line, 0)], 1, NULL, NULL, NULL
FROM (SELECT h.*, a.widx, a.worker, a.lo, a.hi
      FROM _attempt_hosts h JOIN _attempts a ON a.aidx = h.aidx
      WHERE a.widx IS NOT NULL AND a.start_time < $until AND a.end_time >= $since
        AND NOT EXISTS (SELECT 1 FROM _coverage_missing g WHERE g.side = 'zscaler' AND g.s < a.hi AND g.e > a.lo)) h
ASOF LEFT JOIN (SELECT widx, hidx, event_time FROM _attr WHERE widx IS NOT NULL AND hidx IS NOT NULL) r
    ON r.widx = h.widx AND r.hidx = h.hidx AND h.lo <= r.event_time
WHERE r.event_time IS NULL OR r.event_time > h.hi;
