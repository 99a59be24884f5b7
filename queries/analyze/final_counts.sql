-- The findings of this analysis by kind, status and severity (the summary `zsaudit analyze` prints).
-- reads: _final
SELECT kind, status, severity, count(*) AS n FROM _final GROUP BY ALL;
