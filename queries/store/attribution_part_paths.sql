-- The lake parts of attribution rows the store names (schema 8), as paths to read.
-- reads: attribution_parts
SELECT lake || '/' || part FROM attribution_parts ORDER BY analysis_id, part;
