-- silent_failure: an attempt whose final state is success, with at least one attributed request
-- that Zscaler blocked, refused or saw fail (the `failed` flag: rules.toml [failure]).
-- Row stage (wherever _attr is): the period's attributed failed requests. Group stage: per attempt,
-- over all of them (an attempt's requests may sit in its worker's and its logins' partitions).
-- reads: _found, im_workers, _attr, _attempts
-- hands on: _failed_rows
-- stage: rows
CREATE OR REPLACE TEMP TABLE _failed_rows AS
SELECT aidx, event_time, widx, login, host, rid FROM _attr WHERE in_period AND status = 'attributed' AND failed;

-- stage: group
-- skip when empty: _failed_rows
INSERT INTO _found
SELECT 'silent_failure', 'blocked', a.attempt_id,
       g.first_time, a.attempt_id, (SELECT w.worker FROM im_workers w WHERE w.widx = g.widx), g.login, g.host, NULL,
       g.n || ' request(s) blocked or failed while the attempt ended in success: ' || g.hosts,
       g.rids, g.n, NULL, NULL, NULL
FROM (
    SELECT aidx, min(event_time) AS first_time, min(widx) AS widx, top_value(histogram(login)) AS login, top_value(histogram(host)) AS host,
           array_to_string(list(DISTINCT host ORDER BY host)[1:5], ', ') AS hosts,
           list(rid ORDER BY event_time, rid)[1:1000] AS rids, count(*) AS n
    FROM _failed_rows
    GROUP BY aidx
) g
JOIN _attempts a ON a.aidx = g.aidx
WHERE a.state = 'success';
