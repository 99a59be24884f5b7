-- Worker requests of the period by attribution status (attributed, ambiguous, unattributed).
-- reads: _attr
SELECT status, count(*) FROM _attr WHERE in_period GROUP BY status;
