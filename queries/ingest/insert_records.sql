-- Append a batch of typed Zscaler rows (_zs_stage, with its record_key from record_keys.sql) to
-- {table}, each record once: a row whose (event_time, record_key) its table already holds (loaded
-- from another file, or from an earlier batch of this one) is a duplicate and not loaded; within
-- the batch the first line wins. record_key: hash(recordid) for ZIA records that carry one, else
-- the hash of the whole normalized record (migrations/004_record_keys.sql). The anti-join reads
-- only the row groups whose event_time range overlaps the batch's (the bound first and last event
-- time of the batch: DuckDB skips the other row groups by their min/max), so the key index is the
-- table itself and no memory grows with the store. Rows without an event time are rejected before this.
-- The placeholder after the WHERE clause is first_of_each_key.sql when the batch itself may repeat a key, else empty (the
-- window is most of this statement's cost, and a batch of a feed almost never repeats a record).
-- Python fills in the table, its columns and that clause (identifiers and our own SQL only); ? are bound:
-- the evidence-id prefix, file_id, source_file, and the batch's first and last event time.
-- reads: _zs_stage
INSERT INTO {table} (rid, {columns}, extra, file_id, source_file, source_line, record_key)
SELECT ? || ':' || line, {columns}, extra, ?, ?, line, record_key
FROM _zs_stage s
WHERE NOT EXISTS (
    SELECT 1 FROM {table} o
    WHERE o.event_time = s.event_time AND o.record_key = s.record_key AND o.event_time BETWEEN ? AND ?
)
{qualify};
