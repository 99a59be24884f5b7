-- Objects in a received JSON array, read by DuckDB (streaming, bounded); fails if it is not one.
-- reads: -
SELECT count(*) FROM read_json_objects($path, format = 'array', compression = $compression);
