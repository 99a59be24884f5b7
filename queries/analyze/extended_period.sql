-- The analysis period widened to the whole window of every attempt that overlaps it ($skew wide),
-- so an attempt crossing midnight sees all its traffic (findings still report the period only).
-- reads: task_attempts
SELECT min(start_time), max(coalesce(end_time, start_time)) FROM task_attempts
WHERE coalesce(end_time, start_time) + $skew >= $since AND start_time - $skew < $until;
