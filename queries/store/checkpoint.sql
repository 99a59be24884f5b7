-- Write what the store holds in memory to its file now (DuckDB's CHECKPOINT).
-- reads: -
CHECKPOINT;
