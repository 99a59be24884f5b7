-- CC7.2 monitoring: each task attempt was checked for anomalies (identity token gaps, failures
-- that reported success, unexplained egress); checks that could not run are counted, not passed.
-- Population: task attempts started in the period; not evaluable: attempts whose final state is
-- unknown (silent_failure in not_evaluable). `role` marks the counts the pack's result line reads.
WITH pop AS (
    SELECT * FROM task_attempts WHERE start_time >= $since AND start_time < $until
), flagged AS (
    SELECT DISTINCT attempt_id FROM findings
    WHERE list_contains(controls, 'CC7.2') AND event_time >= $since AND event_time < $until
)
SELECT * FROM (VALUES
    (1, 'Task attempts started in the period (population)', (SELECT count(*) FROM pop), 'population'),
    (2, 'attempts whose outcome could not be checked (not evaluable: final state unknown)',
        (SELECT count(DISTINCT attempt_id) FROM not_evaluable
          WHERE check_kind = 'silent_failure' AND attempt_id IN (SELECT attempt_id FROM pop)), 'not_evaluable'),
    (3, 'attempts that ended failed or up_for_retry', (SELECT count(*) FROM pop WHERE state IN ('failed', 'up_for_retry')), NULL),
    (4, 'attempts with any check not evaluable', (SELECT count(DISTINCT attempt_id) FROM not_evaluable
        WHERE attempt_id IN (SELECT attempt_id FROM pop)), NULL),
    (5, 'attempts named by a CC7.2 finding',
        (SELECT count(*) FROM pop WHERE attempt_id IN (SELECT attempt_id FROM flagged)), NULL)
) AS t(ord, label, value, role)
ORDER BY ord;
