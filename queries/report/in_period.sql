-- What "in the period" means, defined once for every report query (findings_in_period,
-- not_evaluable_in_period): a finding whose event time falls in [since, until), or one without an
-- event time raised by an analysis run that overlaps the period; a not-evaluable check of an
-- attempt started in the period, or one without an attempt likewise. since NULL: every finding
-- (`zsaudit findings --format csv|json`). The report runs this file first (report/context.Runner).
CREATE OR REPLACE TEMP MACRO findings_in_period(since, until) AS TABLE
    SELECT * FROM findings
    WHERE since IS NULL
       OR (event_time >= since AND event_time < until)
       OR (event_time IS NULL AND analysis_id IN (
            SELECT analysis_id FROM analysis_runs WHERE period_start < until AND period_end > since));
CREATE OR REPLACE TEMP MACRO not_evaluable_in_period(since, until) AS TABLE
    SELECT n.* FROM not_evaluable n
    LEFT JOIN task_attempts a ON a.attempt_id = n.attempt_id
    WHERE (a.start_time >= since AND a.start_time < until)
       OR (a.attempt_id IS NULL AND n.analysis_id IN (
            SELECT analysis_id FROM analysis_runs WHERE period_start < until AND period_end > since));
