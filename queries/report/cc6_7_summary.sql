-- CC6.7 transmission: outbound transmissions went through the proxy's policy, encrypted, and
-- only to destinations allowed for the identity. Population: ZIA web requests in the period.
WITH pop AS (
    SELECT rid, protocol, url, action FROM zia_web WHERE event_time >= $since AND event_time < $until
), flagged AS (
    SELECT DISTINCT e.id FROM findings f, unnest(f.evidence_ids) AS e(id)
    WHERE list_contains(f.controls, 'CC6.7') AND f.event_time >= $since AND f.event_time < $until
)
SELECT * FROM (VALUES
    (1, 'ZIA web requests in the period (population)', (SELECT count(*) FROM pop)),
    (2, 'sent over HTTPS', (SELECT count(*) FROM pop
        WHERE upper(protocol) IN ('HTTPS', 'SSL', 'TUNNEL_SSL') OR lower(left(url, 8)) = 'https://')),
    (3, 'blocked by Zscaler policy', (SELECT count(*) FROM pop WHERE lower(left(action, 5)) = 'block')),
    (4, 'named as evidence by a CC6.7 finding', (SELECT count(*) FROM pop WHERE rid IN (SELECT id FROM flagged)))
) AS t(ord, label, value)
ORDER BY ord;
