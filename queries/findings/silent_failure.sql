-- silent_failure: an attempt whose final state is success, with at least one attributed request
-- that Zscaler blocked, refused or saw fail (rules.toml [failure]).
INSERT INTO _found
SELECT 'silent_failure', 'blocked', t.attempt_id,
       min(r.event_time), t.attempt_id, min(r.worker), mode(r.login), mode(r.host), NULL,
       count(*) || ' request(s) blocked or failed while the attempt ended in success: '
         || array_to_string(list(DISTINCT r.host ORDER BY r.host)[1:5], ', '),
       list(r.rid ORDER BY r.event_time, r.rid)[1:1000], count(*), NULL, NULL, NULL
FROM _requests r
JOIN _attr t ON t.request_table = r.request_table AND t.rid = r.rid AND t.status = 'attributed'
JOIN _attempts a ON a.attempt_id = t.attempt_id
WHERE r.in_period AND a.state = 'success'
  AND (   (r.request_table = 'zia_web'
           AND (r.action IN (SELECT value FROM rule_failure_zia_actions)
                OR r.response_code >= $fail_min_code))
       OR (r.request_table = 'zpa_user_activity'
           AND r.internal_reason IN (SELECT code FROM rule_zpa_failure_codes)))
GROUP BY t.attempt_id;
