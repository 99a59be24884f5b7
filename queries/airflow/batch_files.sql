-- The batch's task-log files (from Python: path, ids, identity the path gave) as _af_files.
-- reads: _af_files_arrow
-- hands on: _af_files
CREATE OR REPLACE TEMP TABLE _af_files AS SELECT * FROM _af_files_arrow;
