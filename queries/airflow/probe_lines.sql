-- _af_lines (what parse_lines.sql reads): the lines $first .. $last of _af_lines_all that are
-- within the caps, to find the lines of a file that make the parsing fail
-- (airflow_logs._reject_failing_lines halves the range down to each such line).
-- reads: _af_lines_all
-- hands on: _af_probe
CREATE OR REPLACE TEMP TABLE _af_probe AS SELECT CAST($first AS BIGINT) AS first_line, CAST($last AS BIGINT) AS last_line;
CREATE OR REPLACE TEMP VIEW _af_lines AS
SELECT l.* FROM _af_lines_all l, _af_probe p
WHERE l.line_no BETWEEN p.first_line AND p.last_line AND l.cap IS NULL;
