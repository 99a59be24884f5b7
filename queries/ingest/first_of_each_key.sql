-- The first line of each (event_time, record_key) of a batch (see insert_records.sql).
-- reads: - (a clause spliced into insert_records.sql)
QUALIFY row_number() OVER (PARTITION BY event_time, record_key ORDER BY line) = 1
