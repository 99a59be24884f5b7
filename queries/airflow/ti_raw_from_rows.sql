-- Task-instance rows read in Python (SQLite/PostgreSQL metadata DB, REST API JSON) as _af_ti_raw,
-- the one shape airflow/load_ti_rows.sql reads.
-- reads: _af_ti_arrow
-- hands on: _af_ti_raw
CREATE OR REPLACE TEMP TABLE _af_ti_raw AS SELECT * FROM _af_ti_arrow;
