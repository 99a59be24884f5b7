-- A scratch store's rows of one table as a lake unit writes them (Lake.export_unit): each with
-- the UTC day of its {day_column} (the lake's partition), 'none' (lake.NO_DAY) when it has none.
-- reads: -
SELECT *, coalesce(strftime({day_column} AT TIME ZONE 'UTC', '%Y-%m-%d'), 'none') AS day FROM {table};
