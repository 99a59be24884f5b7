-- Each subject's status changes over the nights [$since, $until): status from from_night
-- (inclusive) to to_night (exclusive; NULL: still so at the end).
SELECT subject_id, status, from_night, to_night
FROM finding_history_between($since, $until)
ORDER BY subject_id, from_night;
