-- Running windows keyed by partition pk: the worker's widx for attempts on a known worker, and
-- 1000000 + lidx for the service-account logins an attempt may carry, built only for logins seen
-- in requests whose worker is unknown (e.g. NATed traffic of a service-account login).
-- reads: _attempts, _attempt_logins, _requests
-- creates: _windows
CREATE OR REPLACE TEMP TABLE _windows AS
SELECT widx AS pk, aidx, lo, hi + INTERVAL 1 MICROSECOND AS hi_x
FROM _attempts WHERE widx IS NOT NULL
UNION ALL
SELECT 1000000 + al.lidx AS pk, a.aidx, a.lo, a.hi + INTERVAL 1 MICROSECOND AS hi_x
FROM _attempt_logins al JOIN _attempts a ON a.aidx = al.aidx
WHERE al.lidx IN (SELECT lidx FROM _requests WHERE widx IS NULL);
