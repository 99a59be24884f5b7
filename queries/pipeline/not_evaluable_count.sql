-- Checks that could not be evaluated in one analysis (shown in the run summary).
-- reads: not_evaluable
SELECT count(*) FROM not_evaluable WHERE analysis_id = $analysis_id;
