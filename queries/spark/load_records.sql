-- One unit's parts of a Zscaler table (Lake.load_into), each record once across units as on one
-- machine (queries/ingest/insert_records.sql): a row whose (event_time, record_key) the store's
-- table already holds, loaded from a unit before it in input order or from an earlier night, is a
-- duplicate. Its rid is listed in lake_duplicates (job 1 of an analysis leaves it out of the lake's
-- rows: zsaudit/spark/analyze.py) and it is not loaded. The anti-join reads only the table's row
-- groups in the unit's time range ($first .. $last), as on one machine.
-- reads: lake_duplicates
INSERT INTO lake_duplicates (unit, request_table, rid)
SELECT $unit, $table, u.rid
FROM read_parquet($parts, union_by_name = true, hive_partitioning = false) u
WHERE EXISTS (SELECT 1 FROM {table} o
              WHERE o.event_time = u.event_time AND o.record_key = u.record_key
                AND o.event_time BETWEEN $first AND $last);

INSERT INTO {table} BY NAME
SELECT * FROM read_parquet($parts, union_by_name = true, hive_partitioning = false) u
WHERE NOT EXISTS (SELECT 1 FROM lake_duplicates d WHERE d.unit = $unit AND d.request_table = $table AND d.rid = u.rid);
