-- queries/findings/rules.toml as temp tables rule_* that the detections join against (the kinds'
-- severities, controls and titles; the subtypes' severities). Python hands the rows on column by
-- column, as lists bound to $<table>_<column> (zsaudit/analyze/correlate.py rule_table_params);
-- unnest zips them into rows, one statement a table. What counts as an authentication refusal or a
-- failure ([auth], [failure], the ZPA failure codes) is bound as lists instead (rules.rule_params).
-- reads: -
-- hands on: rule_kinds, rule_subtypes
CREATE OR REPLACE TEMP TABLE rule_kinds AS
SELECT CAST(unnest($rule_kinds_kind) AS VARCHAR) AS kind, CAST(unnest($rule_kinds_severity) AS VARCHAR) AS severity,
       CAST(unnest($rule_kinds_controls) AS VARCHAR[]) AS controls, CAST(unnest($rule_kinds_title) AS VARCHAR) AS title;
CREATE OR REPLACE TEMP TABLE rule_subtypes AS
SELECT CAST(unnest($rule_subtypes_kind) AS VARCHAR) AS kind, CAST(unnest($rule_subtypes_subtype) AS VARCHAR) AS subtype,
       CAST(unnest($rule_subtypes_severity) AS VARCHAR) AS severity;
