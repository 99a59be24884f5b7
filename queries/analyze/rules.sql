-- queries/findings/rules.toml (and the ZPA failure codes) as temp tables rule_* that the
-- detections join against. Python hands the rows on as Arrow tables _rule_* (zsaudit/analyze/rules.py).
-- reads: _rule_kinds, _rule_subtypes, _rule_auth_codes, _rule_auth_reasons, _rule_auth_prefixes, _rule_failure_zia_actions, _rule_zpa_failure_codes
-- hands on: rule_kinds, rule_subtypes, rule_auth_codes, rule_auth_reasons, rule_auth_prefixes, rule_failure_zia_actions, rule_zpa_failure_codes
CREATE OR REPLACE TEMP TABLE rule_kinds (kind VARCHAR, severity VARCHAR, controls VARCHAR[], title VARCHAR);
INSERT INTO rule_kinds SELECT * FROM _rule_kinds;
CREATE OR REPLACE TEMP TABLE rule_subtypes (kind VARCHAR, subtype VARCHAR, severity VARCHAR);
INSERT INTO rule_subtypes SELECT * FROM _rule_subtypes;
CREATE OR REPLACE TEMP TABLE rule_auth_codes (code INTEGER);
INSERT INTO rule_auth_codes SELECT * FROM _rule_auth_codes;
CREATE OR REPLACE TEMP TABLE rule_auth_reasons (reason VARCHAR);
INSERT INTO rule_auth_reasons SELECT * FROM _rule_auth_reasons;
CREATE OR REPLACE TEMP TABLE rule_auth_prefixes (prefix VARCHAR);
INSERT INTO rule_auth_prefixes SELECT * FROM _rule_auth_prefixes;
CREATE OR REPLACE TEMP TABLE rule_failure_zia_actions (value VARCHAR);
INSERT INTO rule_failure_zia_actions SELECT * FROM _rule_failure_zia_actions;
CREATE OR REPLACE TEMP TABLE rule_zpa_failure_codes (code VARCHAR);
INSERT INTO rule_zpa_failure_codes SELECT * FROM _rule_zpa_failure_codes;
