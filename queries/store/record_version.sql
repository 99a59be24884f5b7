-- A schema version (schema.sql or a migration) applied.
-- reads: schema_version
INSERT INTO schema_version (version) VALUES ($version);
