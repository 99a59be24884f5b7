-- How many lake parts of attribution rows the store names (none in a single-machine store).
-- reads: attribution_parts
SELECT count(*) FROM attribution_parts;
