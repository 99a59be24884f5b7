-- Checks that could not be evaluated, by check and reason, for attempts of the period.
SELECT n.check_kind, n.reason, count(*) AS attempts,
       min(n.dag_id || '/' || n.task_id || ' try ' || n.try_number) AS example
FROM not_evaluable n
LEFT JOIN task_attempts a ON a.attempt_id = n.attempt_id
WHERE (a.start_time >= $since AND a.start_time < $until)
   OR (a.attempt_id IS NULL AND n.analysis_id IN (
        SELECT analysis_id FROM analysis_runs WHERE period_start < $until AND period_end > $since))
GROUP BY n.check_kind, n.reason
ORDER BY n.check_kind, attempts DESC, n.reason
LIMIT $limit;
