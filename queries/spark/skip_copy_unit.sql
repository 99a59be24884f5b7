-- A lake unit whose file the store already holds from another path (the same bytes sent twice in one
-- night: both were ingested at once on the cluster): not loaded, as on one machine, and left out of
-- every analysis (zsaudit/spark/analyze.py), the whole unit (rid NULL).
-- reads: lake_duplicates
INSERT INTO lake_duplicates (unit, request_table, rid)
SELECT $unit, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM lake_duplicates WHERE unit = $unit AND rid IS NULL);
