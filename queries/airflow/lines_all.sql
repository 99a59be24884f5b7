-- _af_lines (what parse_lines.sql reads): every line of _af_lines_all.
-- reads: _af_lines_all
CREATE OR REPLACE TEMP VIEW _af_lines AS SELECT * FROM _af_lines_all;
