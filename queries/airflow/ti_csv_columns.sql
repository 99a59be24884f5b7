-- The column names of the CSV dump just read (its header).
-- reads: _af_csv
SELECT column_name FROM (DESCRIBE _af_csv);
