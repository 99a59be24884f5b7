-- A store file attached to this process' DuckDB instance under {alias} (zsaudit/store.py,
-- _Instances: an instance costs ~30-35 ms CPU to create, an ATTACH ~3).
-- reads: -
ATTACH $path AS {alias};
