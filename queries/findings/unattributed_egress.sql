-- unattributed_egress: worker traffic while no task attempt was running on that worker (or, for a
-- service-account login whose worker is unknown, while no attempt that may carry it was running).
-- Requests in a stretch without Airflow coverage (_coverage_missing, from coverage_gap.sql) are not
-- evaluable (_not_evaluable.sql): no attempt could be known then.
-- Row stage (wherever _attr is: each Spark task): the period's unattributed requests. Group stage
-- (once over all of them): a finding per partition, login and host outside the coverage gaps.
-- reads: _found, _attr, im_workers, _coverage_missing
-- hands on: _unattributed_rows
-- stage: rows
CREATE OR REPLACE TEMP TABLE _unattributed_rows AS
SELECT rid, event_time, pk, widx, login, host FROM _attr WHERE status = 'unattributed' AND in_period;

-- stage: group
-- skip when empty: _unattributed_rows
INSERT INTO _found
SELECT 'unattributed_egress', CASE WHEN r.widx IS NULL THEN 'login_only' ELSE 'worker' END,
       concat_ws('|', coalesce('w:' || min(w.worker), 'l:' || lower(min(login))), coalesce(lower(min(login)), ''), coalesce(host, '')),
       min(event_time), NULL, min(w.worker), min(login), host, NULL,
       count(*) || ' request(s) to ' || coalesce(host, '?') || ' from '
         || coalesce('worker ' || min(w.worker), 'login ' || min(login)) || ' while no task attempt was running',
       list(rid ORDER BY event_time, rid)[1:1000], count(*), NULL, NULL, NULL
FROM _unattributed_rows r
LEFT JOIN im_workers w ON w.widx = r.widx
WHERE NOT EXISTS (SELECT 1 FROM _coverage_missing g WHERE g.side = 'airflow' AND r.event_time >= g.s AND r.event_time < g.e)
GROUP BY r.pk, r.widx, lower(r.login), r.host;
