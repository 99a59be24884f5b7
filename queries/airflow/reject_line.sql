-- A line that makes the parsing fail on its own: rejected with the error (? reason, ? line_no).
-- reads: _af_lines_all
UPDATE _af_lines_all SET cap = ? WHERE line_no = ?;
