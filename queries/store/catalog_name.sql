-- The name of the store's catalog, as a cursor of it sees it (to name the store's own tables
-- past TEMP tables of the same name: {catalog}.main.<table>).
-- reads: -
SELECT current_database();
