-- The first and last line number of the batch's lines within the caps.
-- reads: _af_lines_all
SELECT min(line_no), max(line_no) FROM _af_lines_all WHERE cap IS NULL;
