-- The schema version of the store (the highest migration applied).
-- reads: schema_version
SELECT max(version) FROM schema_version;
