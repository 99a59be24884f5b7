-- The record key of each row of a staged Zscaler batch (_zs_stage), in line order: hashed once
-- here, then appended to the batch for insert_records.sql. The key expression is built by
-- zscaler_write.insert_sql from the table's own column types (identifiers only; see
-- migrations/004_record_keys.sql, whose keys these equal).
-- reads: _zs_stage
SELECT {key} AS record_key FROM _zs_stage
