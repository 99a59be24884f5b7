-- egress_bypass: a host an attempt's log named with no Zscaler record from its worker for that
-- host during the attempt (window widened by clock_skew). The first record of the (worker, host)
-- at or after the window start: none, or one after the window end, is a bypass.
-- Attempts whose window overlaps a stretch without Zscaler coverage (_coverage_missing,
-- from coverage_gap.sql) are not evaluable (_not_evaluable.sql): the missing feed, not the task, is the finding.
-- Row stage (wherever _attr is: each Spark task holds whole workers' requests): per attempt host,
-- the first request of its worker to that host at or after the window start (ASOF), where there
-- is one. Group stage: over every attempt host (an attempt whose worker sent nothing has no row).
-- reads: _found, _attempt_hosts, _attempts, _coverage_missing, _attr
-- hands on: _bypass_seen
-- stage: rows
CREATE OR REPLACE TEMP TABLE _bypass_seen AS
SELECT h.aidx, h.hidx, r.event_time AS seen
FROM (SELECT h.aidx, h.hidx, a.widx, a.lo
      FROM _attempt_hosts h JOIN _attempts a ON a.aidx = h.aidx
      WHERE a.widx IS NOT NULL AND a.start_time < $until AND a.end_time >= $since) h
ASOF JOIN (SELECT widx, hidx, event_time FROM _attr WHERE widx IS NOT NULL AND hidx IS NOT NULL) r
    ON r.widx = h.widx AND r.hidx = h.hidx AND h.lo <= r.event_time;

-- stage: group
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
LEFT JOIN (SELECT aidx, hidx, min(seen) AS seen FROM _bypass_seen GROUP BY aidx, hidx) r
    ON r.aidx = h.aidx AND r.hidx = h.hidx
WHERE r.seen IS NULL OR r.seen > h.hi;
