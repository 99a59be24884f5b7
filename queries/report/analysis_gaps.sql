-- The stretches of the pack's period that no analysis covers. A pack over them would show checks
-- that never ran as clean, so `zsaudit report` refuses it and names the missing step.
-- An analysis with an open end (no --since or --until) covers everything on that side.
WITH a AS (
    SELECT greatest(coalesce(period_start, $since), $since) AS s, least(coalesce(period_end, $until), $until) AS e
    FROM analysis_runs
    WHERE coalesce(period_start, $since) < $until AND coalesce(period_end, $until) > $since
), m AS (
    SELECT s, e, max(e) OVER (ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e FROM a
)
SELECT gap_start, gap_end FROM (
    SELECT coalesce(prev_e, $since) AS gap_start, s AS gap_end FROM m WHERE s > coalesce(prev_e, $since)
    UNION ALL
    SELECT coalesce(max(e), $since), $until FROM a HAVING coalesce(max(e), $since) < $until
)
ORDER BY gap_start;
