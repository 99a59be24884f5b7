-- The batch's files (the Arrow table _af_files_arrow: index, path, ids, format, the identity its
-- path gave, line count) as a TEMP table the parsing and the commit read.
-- reads: _af_files_arrow
-- hands on: _af_files
CREATE OR REPLACE TEMP TABLE _af_files AS SELECT * FROM _af_files_arrow;
