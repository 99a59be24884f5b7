-- How many Zscaler records of the period carry a recordid (the sequences recordid_jumps.sql
-- walks): none means no jump could be looked for (the feed's format has no recordid field, or
-- nothing arrived), not that there was none.
SELECT (SELECT count(record_id) FROM zia_web WHERE event_time >= $since AND event_time < $until)
     + (SELECT count(record_id) FROM zia_firewall WHERE event_time >= $since AND event_time < $until)
     + (SELECT count(record_id) FROM zia_dns WHERE event_time >= $since AND event_time < $until) AS ids_checked;
