-- CC6.1 logical access: every request an Airflow worker sent through Zscaler carried an identity
-- (login) that the identity map grants to the DAG behind it. Population: worker requests.
WITH pop AS (
    SELECT request_rid, login, status FROM attributions
    WHERE event_time >= $since AND event_time < $until AND status <> 'not_worker'
), flagged AS (
    SELECT DISTINCT e.id FROM findings f, unnest(f.evidence_ids) AS e(id)
    WHERE list_contains(f.controls, 'CC6.1') AND f.event_time >= $since AND f.event_time < $until
)
SELECT * FROM (VALUES
    (1, 'Requests sent by Airflow workers (population)', (SELECT count(*) FROM pop)),
    (2, 'attributed to one task attempt', (SELECT count(*) FROM pop WHERE status = 'attributed')),
    (3, 'distinct Zscaler logins used', (SELECT count(DISTINCT login) FROM pop)),
    (4, 'named as evidence by a CC6.1 finding', (SELECT count(*) FROM pop WHERE request_rid IN (SELECT id FROM flagged)))
) AS t(ord, label, value)
ORDER BY ord;
