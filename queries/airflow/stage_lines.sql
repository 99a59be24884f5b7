-- A batch's lines (the Arrow table _af_lines_arrow: file_idx, line_no, raw, cap, raw_bytes,
-- raw_sha256) into a TEMP table, where a large file's lines are appended (append_lines.sql) and
-- which spills to disk under the memory limit; _af_lines, what parse_lines.sql reads, shows it whole.
-- reads: _af_lines_arrow
-- hands on: _af_lines_all
CREATE OR REPLACE TEMP TABLE _af_lines_all AS SELECT * FROM _af_lines_arrow;
