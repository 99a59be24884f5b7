-- The identity map as temp tables im_* that correlation and the detections join against.
-- Python hands the rows on column by column, as lists bound to $<table>_<column>
-- (zsaudit/analyze/correlate.py identity_params); unnest zips them back into rows.
-- reads: -
-- hands on: im_logins, im_dags, im_conns, im_hosts, im_workers, im_worker_names, im_worker_ips, im_ignore_hosts, im_exceptions
CREATE OR REPLACE TEMP TABLE im_logins (sa VARCHAR, login VARCHAR, lidx INTEGER);
INSERT INTO im_logins SELECT unnest($im_logins_sa), unnest($im_logins_login), unnest($im_logins_lidx);
CREATE OR REPLACE TEMP TABLE im_dags (sa VARCHAR, pattern VARCHAR);
INSERT INTO im_dags SELECT unnest($im_dags_sa), unnest($im_dags_pattern);
CREATE OR REPLACE TEMP TABLE im_conns (sa VARCHAR, conn_id VARCHAR);
INSERT INTO im_conns SELECT unnest($im_conns_sa), unnest($im_conns_conn_id);
CREATE OR REPLACE TEMP TABLE im_hosts (sa VARCHAR, pattern VARCHAR);
INSERT INTO im_hosts SELECT unnest($im_hosts_sa), unnest($im_hosts_pattern);
CREATE OR REPLACE TEMP TABLE im_workers (widx INTEGER, worker VARCHAR);
INSERT INTO im_workers SELECT unnest($im_workers_widx), unnest($im_workers_worker);
CREATE OR REPLACE TEMP TABLE im_worker_names (widx INTEGER, name VARCHAR);
INSERT INTO im_worker_names SELECT unnest($im_worker_names_widx), unnest($im_worker_names_name);
CREATE OR REPLACE TEMP TABLE im_worker_ips (widx INTEGER, ip VARCHAR);
INSERT INTO im_worker_ips SELECT unnest($im_worker_ips_widx), unnest($im_worker_ips_ip);
CREATE OR REPLACE TEMP TABLE im_ignore_hosts (pattern VARCHAR);
INSERT INTO im_ignore_hosts SELECT unnest($im_ignore_hosts_pattern);
CREATE OR REPLACE TEMP TABLE im_exceptions (idx INTEGER, kind VARCHAR, login VARCHAR, dag VARCHAR,
    task VARCHAR, host VARCHAR, worker VARCHAR, conn_id VARCHAR, finding_id VARCHAR, approver VARCHAR,
    reason VARCHAR, ticket VARCHAR, expires DATE);
INSERT INTO im_exceptions SELECT unnest($im_exceptions_idx), unnest($im_exceptions_kind), unnest($im_exceptions_login), unnest($im_exceptions_dag), unnest($im_exceptions_task), unnest($im_exceptions_host), unnest($im_exceptions_worker), unnest($im_exceptions_conn_id), unnest($im_exceptions_finding_id), unnest($im_exceptions_approver), unnest($im_exceptions_reason), unnest($im_exceptions_ticket), unnest($im_exceptions_expires);
