-- The store's file detached when its last connection closes: checkpointed and unlocked, as a
-- DuckDB instance closing does.
-- reads: -
DETACH {alias};
