-- CC6.6 boundary protection: Airflow tasks reach the outside world only through Zscaler. Every
-- destination a task's log names must show up as a Zscaler request from that attempt.
-- Population: task attempts started in the period; not evaluable: attempts whose egress could not
-- be checked (egress_bypass in not_evaluable: no host, host not a worker, no outbound host logged,
-- no Zscaler coverage). `role` marks the counts the pack's result line reads.
WITH pop AS (
    SELECT * FROM task_attempts WHERE start_time >= $since AND start_time < $until
), hints AS (
    SELECT h.* FROM task_egress_hints h JOIN pop USING (attempt_id)
), flagged AS (
    SELECT DISTINCT attempt_id FROM findings
    WHERE list_contains(controls, 'CC6.6') AND event_time >= $since AND event_time < $until
)
SELECT * FROM (VALUES
    (1, 'Task attempts started in the period (population)', (SELECT count(*) FROM pop), 'population'),
    (2, 'attempts whose egress could not be checked (not evaluable, reasons under Checks not evaluable)',
        (SELECT count(DISTINCT attempt_id) FROM not_evaluable
          WHERE check_kind = 'egress_bypass' AND attempt_id IN (SELECT attempt_id FROM pop)), 'not_evaluable'),
    (3, 'attempts whose logs name an outbound destination', (SELECT count(DISTINCT attempt_id) FROM hints), NULL),
    (4, 'outbound destinations named in task logs', (SELECT count(*) FROM hints), NULL),
    (5, 'attempts with at least one attributed Zscaler request',
        (SELECT count(DISTINCT attempt_id) FROM attributions WHERE status = 'attributed'
           AND attempt_id IN (SELECT attempt_id FROM pop)), NULL),
    (6, 'attempts named by a CC6.6 finding',
        (SELECT count(*) FROM pop WHERE attempt_id IN (SELECT attempt_id FROM flagged)), NULL)
) AS t(ord, label, value, role)
ORDER BY ord;
