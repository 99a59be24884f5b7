-- One chunk of a large task log's lines (the Arrow table _af_chunk) appended to the batch's lines.
-- reads: _af_lines_all, _af_chunk
INSERT INTO _af_lines_all SELECT * FROM _af_chunk;
