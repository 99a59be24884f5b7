-- The rids of one request table's lake rows the store did not load (records loaded before from
-- another unit), written for job 1's tasks, which leave them out (zsaudit/spark/analyze.py).
-- reads: lake_duplicates
SELECT DISTINCT rid FROM lake_duplicates WHERE request_table = $table AND rid IS NOT NULL ORDER BY rid;
