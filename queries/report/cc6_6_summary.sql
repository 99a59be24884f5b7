-- CC6.6 boundary protection: Airflow tasks reach the outside world only through Zscaler. Every
-- destination a task's log names must show up as a Zscaler request from that attempt.
-- Population: task attempts started in the period.
WITH pop AS (
    SELECT * FROM task_attempts WHERE start_time >= $since AND start_time < $until
), hints AS (
    SELECT h.* FROM task_egress_hints h JOIN pop USING (attempt_id)
), flagged AS (
    SELECT DISTINCT attempt_id FROM findings
    WHERE list_contains(controls, 'CC6.6') AND event_time >= $since AND event_time < $until
)
SELECT * FROM (VALUES
    (1, 'Task attempts started in the period (population)', (SELECT count(*) FROM pop)),
    (2, 'attempts whose logs name an outbound destination', (SELECT count(DISTINCT attempt_id) FROM hints)),
    (3, 'outbound destinations named in task logs', (SELECT count(*) FROM hints)),
    (4, 'attempts with at least one attributed Zscaler request',
        (SELECT count(DISTINCT attempt_id) FROM attributions WHERE status = 'attributed'
           AND attempt_id IN (SELECT attempt_id FROM pop))),
    (5, 'attempts named by a CC6.6 finding',
        (SELECT count(*) FROM pop WHERE attempt_id IN (SELECT attempt_id FROM flagged)))
) AS t(ord, label, value)
ORDER BY ord;
