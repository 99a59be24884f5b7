-- Airflow 2.x "TaskInstance Finished" lines of a component's stdout carry the full task-instance
-- identity: observations of their own, in the shape airflow/load_ti_rows.sql reads.
-- reads: _af_stdout
-- hands on: _af_ti_raw
CREATE OR REPLACE TEMP TABLE _af_ti_raw AS SELECT line_no AS row_no, dag_id, run_id, task_id,
    map_index, try_number, NULL AS ti_id, NULL AS hostname, start_date, end_date, state, operator,
    max_tries, NULL AS executor, NULL AS queue, false AS is_history
FROM _af_stdout WHERE kind = 'ti_finished';
