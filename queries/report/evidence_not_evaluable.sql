-- evidence/not_evaluable: checks that could not be evaluated for the period's attempts.
SELECT n.check_kind, n.reason, n.attempt_id, n.dag_id, n.run_id, n.task_id, n.map_index, n.try_number,
       n.analysis_id
FROM not_evaluable n
LEFT JOIN task_attempts a ON a.attempt_id = n.attempt_id
WHERE (a.start_time >= $since AND a.start_time < $until)
   OR (a.attempt_id IS NULL AND n.analysis_id IN (
        SELECT analysis_id FROM analysis_runs WHERE period_start < $until AND period_end > $since))
ORDER BY n.check_kind, n.dag_id, n.run_id, n.task_id, n.map_index, n.try_number, n.reason;
