-- Outbound hosts each attempt's log named (lower case), minus ignored hosts; hidx numbers the
-- distinct hosts so requests match them by integer (04_requests reads each host's hidx from here).
-- reads: task_egress_hints, _attempts, im_ignore_hosts
-- hands on: _attempt_hosts
CREATE OR REPLACE TEMP TABLE _attempt_hosts AS
SELECT a.aidx, h.attempt_id, lower(h.host) AS host,
       CAST(dense_rank() OVER (ORDER BY lower(h.host)) AS INTEGER) AS hidx,
       min(h.event_time) AS first_time,
       arg_min(h.source_line, (h.event_time, h.source_line)) AS source_line,  -- first mention; a tie: first line
       count(*) AS mentions
FROM task_egress_hints h
JOIN _attempts a ON a.attempt_id = h.attempt_id
WHERE h.host IS NOT NULL AND h.host <> ''
  AND NOT EXISTS (SELECT 1 FROM im_ignore_hosts i WHERE lower(h.host) GLOB i.pattern)
GROUP BY a.aidx, h.attempt_id, lower(h.host);
