-- The identity map as temp tables im_* that correlation and the detections join against.
-- Python hands the rows on as Arrow tables _im_* (zsaudit/analyze/correlate.py).
-- reads: _im_logins, _im_dags, _im_conns, _im_hosts, _im_workers, _im_worker_names, _im_worker_ips, _im_ignore_hosts, _im_exceptions
-- hands on: im_logins, im_dags, im_conns, im_hosts, im_workers, im_worker_names, im_worker_ips, im_ignore_hosts, im_exceptions
CREATE OR REPLACE TEMP TABLE im_logins (sa VARCHAR, login VARCHAR, lidx INTEGER);
INSERT INTO im_logins SELECT * FROM _im_logins;
CREATE OR REPLACE TEMP TABLE im_dags (sa VARCHAR, pattern VARCHAR);
INSERT INTO im_dags SELECT * FROM _im_dags;
CREATE OR REPLACE TEMP TABLE im_conns (sa VARCHAR, conn_id VARCHAR);
INSERT INTO im_conns SELECT * FROM _im_conns;
CREATE OR REPLACE TEMP TABLE im_hosts (sa VARCHAR, pattern VARCHAR);
INSERT INTO im_hosts SELECT * FROM _im_hosts;
CREATE OR REPLACE TEMP TABLE im_workers (widx INTEGER, worker VARCHAR);
INSERT INTO im_workers SELECT * FROM _im_workers;
CREATE OR REPLACE TEMP TABLE im_worker_names (widx INTEGER, name VARCHAR);
INSERT INTO im_worker_names SELECT * FROM _im_worker_names;
CREATE OR REPLACE TEMP TABLE im_worker_ips (widx INTEGER, ip VARCHAR);
INSERT INTO im_worker_ips SELECT * FROM _im_worker_ips;
CREATE OR REPLACE TEMP TABLE im_ignore_hosts (pattern VARCHAR);
INSERT INTO im_ignore_hosts SELECT * FROM _im_ignore_hosts;
CREATE OR REPLACE TEMP TABLE im_exceptions (idx INTEGER, kind VARCHAR, login VARCHAR, dag VARCHAR,
    task VARCHAR, host VARCHAR, worker VARCHAR, conn_id VARCHAR, finding_id VARCHAR, approver VARCHAR,
    reason VARCHAR, ticket VARCHAR, expires DATE);
INSERT INTO im_exceptions SELECT * FROM _im_exceptions;
