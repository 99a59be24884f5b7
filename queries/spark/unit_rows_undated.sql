-- A scratch store's rows of a table without a time column as a lake unit writes them
-- (Lake.export_unit): all in the partition day 'none' (lake.NO_DAY).
-- reads: -
SELECT *, 'none' AS day FROM {table};
