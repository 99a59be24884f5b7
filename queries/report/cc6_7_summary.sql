-- CC6.7 transmission: outbound transmissions went through the proxy's policy, encrypted, and
-- only to destinations allowed for the identity. Population: ZIA web requests in the period.
-- One pass over the population; the rows below are its counts.
WITH flagged AS (
    SELECT DISTINCT e.id FROM findings f, unnest(f.evidence_ids) AS e(id)
    WHERE list_contains(f.controls, 'CC6.7') AND f.event_time >= $since AND f.event_time < $until
), counts AS (
    SELECT count(*) AS population,
           count(*) FILTER (WHERE upper(w.protocol) IN ('HTTPS', 'SSL', 'TUNNEL_SSL')
                               OR lower(left(w.url, 8)) = 'https://') AS https,
           count(*) FILTER (WHERE lower(left(w.action, 5)) = 'block') AS blocked,
           count(fl.id) AS flagged
    FROM zia_web w
    LEFT JOIN flagged fl ON fl.id = w.rid
    WHERE w.event_time >= $since AND w.event_time < $until
)
SELECT t.ord, t.label, t.value, t.role
FROM counts,
     LATERAL (VALUES (1, 'ZIA web requests in the period (population)', population, 'population'),
                     (2, 'sent over HTTPS', https, NULL),
                     (3, 'blocked by Zscaler policy', blocked, NULL),
                     (4, 'named as evidence by a CC6.7 finding', flagged, NULL)) AS t(ord, label, value, role)
ORDER BY t.ord;
