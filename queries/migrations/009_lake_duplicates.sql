-- Schema 9 (issue 17): each record once across the Spark engine's ingest units (docs/schema.md).
--
-- A Spark ingest task keeps a record once within its file; the store's load of the lake's units
-- (Lake.load_into) does it across files, in input order, as one machine does: a record already
-- loaded is a duplicate, counted in its file's ledger row. lake_duplicates lists the lake rows the
-- store did not load, so that analysis, which reads the lake, leaves them out too: per unit, the
-- rid of each duplicate record and its table, or one row with both NULL for a unit not loaded at
-- all (the same bytes as a file the store holds, sent under another name in the same night).
-- Empty in a single-machine store.
CREATE TABLE lake_duplicates (
    unit           VARCHAR NOT NULL,       -- the lake unit (zsaudit/lake.py)
    request_table  VARCHAR,                -- the table of the record not loaded (NULL: the whole unit)
    rid            VARCHAR                 -- its rid in the unit's rows (NULL: the whole unit)
);
