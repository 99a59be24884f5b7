-- The batch's lines, once parsed (stage_lines.sql, lines_all.sql, probe_lines.sql).
-- reads: _af_lines_all, _af_probe
DROP VIEW IF EXISTS _af_lines;
DROP TABLE IF EXISTS _af_lines_all;
DROP TABLE IF EXISTS _af_probe;
