-- How many task-instance rows this source had.
-- reads: _af_tiv
SELECT count(*) FROM _af_tiv;
