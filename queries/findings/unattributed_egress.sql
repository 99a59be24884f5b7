-- unattributed_egress: worker traffic while no task attempt was running on that worker (or, for a
-- service-account login whose worker is unknown, while no attempt that may carry it was running).
INSERT INTO _found
SELECT 'unattributed_egress', CASE WHEN worker IS NULL THEN 'login_only' ELSE 'worker' END,
       concat_ws('|', pk, coalesce(login_l, ''), coalesce(host, '')),
       min(event_time), NULL, worker, min(login), host, NULL,
       count(*) || ' request(s) to ' || coalesce(host, '?') || ' from '
         || coalesce('worker ' || worker, 'login ' || min(login)) || ' while no task attempt was running',
       list(rid ORDER BY event_time, rid)[1:1000], count(*), NULL, NULL, NULL
FROM _attr
WHERE status = 'unattributed' AND in_period
GROUP BY pk, worker, login_l, host;
