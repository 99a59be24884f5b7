-- The logins each attempt may carry: those of every service account whose `dags` globs match
-- its DAG, or whose `connections` include a connection its log named.
-- reads: _attempts, im_dags, im_logins, task_connections, im_conns
-- creates: _attempt_logins
CREATE OR REPLACE TEMP TABLE _attempt_logins AS
SELECT DISTINCT aidx, lidx, login FROM (
    SELECT a.aidx, l.lidx, l.login
    FROM _attempts a
    JOIN im_dags d ON a.dag_id GLOB d.pattern
    JOIN im_logins l ON l.sa = d.sa
    UNION ALL
    SELECT a.aidx, l.lidx, l.login
    FROM task_connections c
    JOIN _attempts a ON a.attempt_id = c.attempt_id
    JOIN im_conns ic ON ic.conn_id = c.conn_id
    JOIN im_logins l ON l.sa = ic.sa
);
