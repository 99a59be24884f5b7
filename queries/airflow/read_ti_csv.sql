-- A task_instance CSV dump (header row) read by DuckDB, every column as text.
-- reads: -
-- hands on: _af_csv
CREATE OR REPLACE TEMP TABLE _af_csv AS SELECT * FROM read_csv($p, header = true,
    all_varchar = true, auto_detect = true, ignore_errors = false);
