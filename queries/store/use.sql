-- A connection (the store's, or a cursor of it: a worker thread's own) names the store's tables
-- without a catalog.
-- reads: -
USE {alias};
