-- Rows of a Zscaler file that has no ledger row: leftovers of an interrupted chunked load.
-- {table}: the file's log type (zia_web, ...: a table of the schema, never from input).
-- reads: rejects
DELETE FROM {table} WHERE file_id = $file_id;
DELETE FROM rejects WHERE file_id = $file_id;
