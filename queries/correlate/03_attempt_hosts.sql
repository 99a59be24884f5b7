-- Outbound hosts each attempt's log named (lower case, without port), minus ignored hosts.
CREATE OR REPLACE TEMP TABLE _attempt_hosts AS
SELECT h.attempt_id, lower(h.host) AS host,
       min(h.event_time) AS first_time,
       arg_min(h.source_line, h.event_time) AS source_line,
       count(*) AS mentions
FROM task_egress_hints h
JOIN _attempts a ON a.attempt_id = h.attempt_id
WHERE h.host IS NOT NULL AND h.host <> ''
  AND NOT EXISTS (SELECT 1 FROM im_ignore_hosts i WHERE lower(h.host) GLOB i.pattern)
GROUP BY h.attempt_id, lower(h.host);
