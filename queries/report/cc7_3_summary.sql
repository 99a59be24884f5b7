-- CC7.3 evaluation of events: every finding was evaluated: either covered by an approved,
-- time-boxed exception (approver, ticket, expiry) or left open for follow-up.
-- Population: the period's findings.
WITH pop AS (
    SELECT * FROM findings_in_period($since, $until)
)
SELECT * FROM (VALUES
    (1, 'Findings in the period (population)', (SELECT count(*) FROM pop), 'population'),
    (2, 'accepted risks: accepted under an approved exception', (SELECT count(*) FROM pop WHERE status = 'accepted'), NULL),
    (3, 'deviations (of the criteria each is tagged with): open, awaiting follow-up', (SELECT count(*) FROM pop WHERE status <> 'accepted'), NULL),
    (4, 'open although an exception existed (expired or not matching)',
        (SELECT count(*) FROM pop WHERE status <> 'accepted' AND exception_ticket IS NOT NULL), NULL),
    (5, 'accepted risks whose exception expires inside the period',
        (SELECT count(*) FROM pop WHERE status = 'accepted' AND exception_expires < CAST($until AS DATE)), NULL)
) AS t(ord, label, value, role)
ORDER BY ord;
