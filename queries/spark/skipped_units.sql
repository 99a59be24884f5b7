-- Lake units the store did not load at all (copies of a file it holds: Lake.load_into).
-- reads: lake_duplicates
SELECT DISTINCT unit FROM lake_duplicates WHERE rid IS NULL ORDER BY unit;
