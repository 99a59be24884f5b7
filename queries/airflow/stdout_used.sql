-- How many lines of a component's stdout were task-instance events.
-- reads: _af_stdout
SELECT count(*) FROM _af_stdout WHERE kind IS NOT NULL;
