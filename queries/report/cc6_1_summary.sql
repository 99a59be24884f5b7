-- CC6.1 logical access: every request an Airflow worker sent through Zscaler carried an identity
-- (login) that the identity map grants to the DAG behind it. Population: worker requests.
-- One pass over the population; the rows below are its counts (`role` marks the population and
-- the not-evaluable count the pack's result line reads).
WITH flagged AS (
    SELECT DISTINCT e.id FROM findings f, unnest(f.evidence_ids) AS e(id)
    WHERE list_contains(f.controls, 'CC6.1') AND f.event_time >= $since AND f.event_time < $until
), counts AS (
    SELECT count(*) AS population,
           count(*) FILTER (WHERE a.status = 'attributed') AS attributed,
           count(DISTINCT a.login) AS logins,
           count(fl.id) AS flagged
    FROM attributions a
    LEFT JOIN flagged fl ON fl.id = a.request_rid
    WHERE a.event_time >= $since AND a.event_time < $until AND a.status <> 'not_worker'
)
SELECT t.ord, t.label, t.value, t.role
FROM counts,
     LATERAL (VALUES (1, 'Requests sent by Airflow workers (population)', population, 'population'),
                     (2, 'attributed to one task attempt', attributed, NULL),
                     (3, 'distinct Zscaler logins used', logins, NULL),
                     (4, 'named as evidence by a CC6.1 finding', flagged, NULL)) AS t(ord, label, value, role)
ORDER BY t.ord;
