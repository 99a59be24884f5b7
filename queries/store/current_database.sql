-- The store's catalog name (for SQL that must name the store's tables past TEMP ones).
-- reads: -
SELECT current_database();
