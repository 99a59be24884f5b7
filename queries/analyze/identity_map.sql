-- The identity map as temp tables im_* that correlation and the detections join against.
-- Python hands the rows on column by column, as lists bound to $<table>_<column>
-- (zsaudit/analyze/correlate.py identity_params); unnest zips them back into rows, one statement a
-- table (an empty list is an empty table of the same columns).
-- reads: -
-- hands on: im_logins, im_dags, im_conns, im_hosts, im_workers, im_worker_names, im_worker_ips, im_ignore_hosts, im_exceptions
CREATE OR REPLACE TEMP TABLE im_logins AS
SELECT CAST(unnest($im_logins_sa) AS VARCHAR) AS sa, CAST(unnest($im_logins_login) AS VARCHAR) AS login,
       CAST(unnest($im_logins_lidx) AS INTEGER) AS lidx;
CREATE OR REPLACE TEMP TABLE im_dags AS
SELECT CAST(unnest($im_dags_sa) AS VARCHAR) AS sa, CAST(unnest($im_dags_pattern) AS VARCHAR) AS pattern;
CREATE OR REPLACE TEMP TABLE im_conns AS
SELECT CAST(unnest($im_conns_sa) AS VARCHAR) AS sa, CAST(unnest($im_conns_conn_id) AS VARCHAR) AS conn_id;
CREATE OR REPLACE TEMP TABLE im_hosts AS
SELECT CAST(unnest($im_hosts_sa) AS VARCHAR) AS sa, CAST(unnest($im_hosts_pattern) AS VARCHAR) AS pattern;
CREATE OR REPLACE TEMP TABLE im_workers AS
SELECT CAST(unnest($im_workers_widx) AS INTEGER) AS widx, CAST(unnest($im_workers_worker) AS VARCHAR) AS worker;
CREATE OR REPLACE TEMP TABLE im_worker_names AS
SELECT CAST(unnest($im_worker_names_widx) AS INTEGER) AS widx, CAST(unnest($im_worker_names_name) AS VARCHAR) AS name;
CREATE OR REPLACE TEMP TABLE im_worker_ips AS
SELECT CAST(unnest($im_worker_ips_widx) AS INTEGER) AS widx, CAST(unnest($im_worker_ips_ip) AS VARCHAR) AS ip;
CREATE OR REPLACE TEMP TABLE im_ignore_hosts AS
SELECT CAST(unnest($im_ignore_hosts_pattern) AS VARCHAR) AS pattern;
CREATE OR REPLACE TEMP TABLE im_exceptions AS
SELECT CAST(unnest($im_exceptions_idx) AS INTEGER) AS idx, CAST(unnest($im_exceptions_kind) AS VARCHAR) AS kind,
       CAST(unnest($im_exceptions_login) AS VARCHAR) AS login, CAST(unnest($im_exceptions_dag) AS VARCHAR) AS dag,
       CAST(unnest($im_exceptions_task) AS VARCHAR) AS task, CAST(unnest($im_exceptions_host) AS VARCHAR) AS host,
       CAST(unnest($im_exceptions_worker) AS VARCHAR) AS worker,
       CAST(unnest($im_exceptions_conn_id) AS VARCHAR) AS conn_id,
       CAST(unnest($im_exceptions_finding_id) AS VARCHAR) AS finding_id,
       CAST(unnest($im_exceptions_approver) AS VARCHAR) AS approver,
       CAST(unnest($im_exceptions_reason) AS VARCHAR) AS reason, CAST(unnest($im_exceptions_ticket) AS VARCHAR) AS ticket,
       CAST(unnest($im_exceptions_expires) AS DATE) AS expires;
