-- The lake roots whose parts the store's view `attributions` reads (schema 8): an object-store
-- root's filesystem is registered on every connection that opens the store.
-- reads: attribution_parts
SELECT DISTINCT lake FROM attribution_parts ORDER BY lake;
