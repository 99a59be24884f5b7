-- The summary `zsaudit analyze` prints, in one statement: this analysis's findings by kind, status
-- and severity (what = 'finding'), then its not-evaluable checks by check (what = 'not_evaluable',
-- in check order).
-- reads: _final, not_evaluable
SELECT 'finding' AS what, kind, status, severity, count(*) AS n FROM _final GROUP BY ALL
UNION ALL
SELECT 'not_evaluable', check_kind, NULL, NULL, count(*) FROM not_evaluable WHERE analysis_id = $analysis_id
GROUP BY check_kind
ORDER BY what, kind;
