-- A store table's columns and types in table order (the record key hashes them in this order).
-- reads: information_schema.columns
SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = 'main' AND table_name = $table ORDER BY ordinal_position;
