-- The lake parts of attribution rows the store names, below whichever root (Lake.sweep_attribution_parts
-- keeps them; Lake.adopt_attribution_parts re-roots them when the lake has moved).
-- reads: attribution_parts
SELECT DISTINCT lake, part FROM attribution_parts ORDER BY lake, part;
