-- Running windows keyed by partition: 'w:<worker>' for attempts on a known worker, and
-- 'l:<login>' for every login an attempt may carry (used for requests whose worker is unknown,
-- e.g. NATed traffic of a service-account login).
CREATE OR REPLACE TEMP TABLE _windows AS
SELECT 'w:' || worker AS pk, attempt_id, lo, hi + INTERVAL 1 MICROSECOND AS hi_x
FROM _attempts WHERE worker IS NOT NULL
UNION ALL
SELECT 'l:' || al.login AS pk, a.attempt_id, a.lo, a.hi + INTERVAL 1 MICROSECOND AS hi_x
FROM _attempt_logins al JOIN _attempts a ON a.attempt_id = al.attempt_id;
