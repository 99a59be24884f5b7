-- Checks that could not be evaluated, by check and reason, for attempts of the period.
SELECT n.check_kind, n.reason, count(*) AS attempts,
       min(n.dag_id || '/' || n.task_id || ' try ' || n.try_number) AS example
FROM not_evaluable_in_period($since, $until) n
GROUP BY n.check_kind, n.reason
ORDER BY n.check_kind, attempts DESC, n.reason
LIMIT $limit;
