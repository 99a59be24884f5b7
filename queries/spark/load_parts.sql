-- One unit's parts of one table (Lake.load_into), matched to the store's columns by name;
-- {table}: the store table (a folder of the lake that names one).
-- reads: -
INSERT INTO {table} BY NAME SELECT * FROM read_parquet($parts, union_by_name = true, hive_partitioning = false);
