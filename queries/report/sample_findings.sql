-- What the test sheets (queries/report/cc*_sample.sql) read about a sampled item: the findings of
-- one criterion that name it, by evidence id (a request) or by attempt, and the row's result.
CREATE OR REPLACE TEMP MACRO findings_naming(control) AS TABLE
    SELECT e.id, string_agg(f.kind || ' (' || f.status || ')', ', ' ORDER BY f.kind, f.status) AS kinds,
           bool_or(f.status <> 'accepted') AS any_open
    FROM findings f, unnest(f.evidence_ids) AS e(id)
    WHERE list_contains(f.controls, control)
    GROUP BY e.id;
CREATE OR REPLACE TEMP MACRO findings_on_attempt(control) AS TABLE
    SELECT attempt_id, string_agg(kind || ' (' || status || ')', ', ' ORDER BY kind, status) AS kinds,
           bool_or(status <> 'accepted') AS any_open
    FROM findings
    WHERE list_contains(controls, control) AND attempt_id IS NOT NULL
    GROUP BY attempt_id;
-- deviation: an open finding of the criterion names the item; accepted risk: only accepted ones do
CREATE OR REPLACE TEMP MACRO sample_result(any_open, kinds, otherwise) AS
    CASE WHEN any_open THEN 'deviation' WHEN kinds IS NOT NULL THEN 'accepted risk' ELSE otherwise END;
