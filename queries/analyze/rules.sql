-- queries/findings/rules.toml (and the ZPA failure codes) as temp tables rule_* that the
-- detections join against. Python hands the rows on column by column, as lists bound to
-- $<table>_<column> (zsaudit/analyze/correlate.py rule_table_params); unnest zips them into rows.
-- reads: -
-- hands on: rule_kinds, rule_subtypes, rule_auth_codes, rule_auth_reasons, rule_auth_prefixes, rule_failure_zia_actions, rule_zpa_failure_codes
CREATE OR REPLACE TEMP TABLE rule_kinds (kind VARCHAR, severity VARCHAR, controls VARCHAR[], title VARCHAR);
INSERT INTO rule_kinds SELECT unnest($rule_kinds_kind), unnest($rule_kinds_severity), unnest($rule_kinds_controls), unnest($rule_kinds_title);
CREATE OR REPLACE TEMP TABLE rule_subtypes (kind VARCHAR, subtype VARCHAR, severity VARCHAR);
INSERT INTO rule_subtypes SELECT unnest($rule_subtypes_kind), unnest($rule_subtypes_subtype), unnest($rule_subtypes_severity);
CREATE OR REPLACE TEMP TABLE rule_auth_codes (code INTEGER);
INSERT INTO rule_auth_codes SELECT unnest($rule_auth_codes_code);
CREATE OR REPLACE TEMP TABLE rule_auth_reasons (reason VARCHAR);
INSERT INTO rule_auth_reasons SELECT unnest($rule_auth_reasons_reason);
CREATE OR REPLACE TEMP TABLE rule_auth_prefixes (prefix VARCHAR);
INSERT INTO rule_auth_prefixes SELECT unnest($rule_auth_prefixes_prefix);
CREATE OR REPLACE TEMP TABLE rule_failure_zia_actions (value VARCHAR);
INSERT INTO rule_failure_zia_actions SELECT unnest($rule_failure_zia_actions_value);
CREATE OR REPLACE TEMP TABLE rule_zpa_failure_codes (code VARCHAR);
INSERT INTO rule_zpa_failure_codes SELECT unnest($rule_zpa_failure_codes_code);
