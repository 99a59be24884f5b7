-- Does DuckDB (ICU) know the --tz zone? An unknown one fails here, before any file is read.
-- reads: -
SELECT timezone($tz, TIMESTAMP '2000-01-01 00:00:00');
