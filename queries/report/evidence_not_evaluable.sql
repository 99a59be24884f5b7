-- evidence/not_evaluable: checks that could not be evaluated for the period's attempts.
SELECT n.check_kind, n.reason, n.attempt_id, n.dag_id, n.run_id, n.task_id, n.map_index, n.try_number,
       n.analysis_id
FROM not_evaluable_in_period($since, $until) n
ORDER BY n.check_kind, n.dag_id, n.run_id, n.task_id, n.map_index, n.try_number, n.reason;
