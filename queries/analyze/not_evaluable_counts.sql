-- This analysis's not-evaluable checks by check.
-- reads: not_evaluable
SELECT check_kind, count(*) FROM not_evaluable WHERE analysis_id = $analysis_id
GROUP BY check_kind ORDER BY check_kind;
