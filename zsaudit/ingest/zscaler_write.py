"""A Zscaler file's staged rows and rejects into the store, each record once, in chunked commits.

Rows gather until FLUSH_ROWS / FLUSH_BYTES, then go in one INSERT (one DuckDB row group) that
skips every record whose natural key (event_time, record_key) its table already holds
(queries/ingest/insert_records.sql): those count as duplicates. Each key is hashed once, in
DuckDB (record_keys.sql), and the window keeping the first of a key repeated within the batch
(first_of_each_key.sql) runs only when the batch may repeat one (may_repeat_key).

DuckDB holds a transaction's appended rows in memory until commit, so past CHUNK_ROWS rows or
CHUNK_BYTES bytes (rows and rejects) the file's transaction commits what it holds and goes on
(store.Chunked). The ledger row is written last, in the final transaction: until then the file
is listed in ingest_inflight, counts as not ingested, and a failure (or, after a crash, the next
open of the store) deletes its rows again.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .. import queries
from . import ledger, limits
from .nss_fields import COLUMNS, DERIVED

FLUSH_ROWS = 122_880            # one DuckDB row group per INSERT
# ... or fewer rows when they are this large (wide lines). Not less: an INSERT of part of a row
# group leaves the table's row groups part-filled, and the closing checkpoint then costs about
# twice as much (a ZIA web row stages at ~600 bytes: 122,880 of them are ~70 MB)
FLUSH_BYTES = 128 << 20
CHUNK_ROWS = int(os.environ.get("ZSAUDIT_INGEST_CHUNK_ROWS") or 150_000)   # rows per transaction for larger files
CHUNK_BYTES = 128 << 20         # ... or bytes (rows + rejects): bounds a transaction's memory
STAGE = "_zs_stage"             # the registered batch the key and insert statements read
_TABLE_COLUMNS: dict[str, list] = {}     # (column, type) of each ingest table, in table order (insert_sql)


class RecordWriter:
    """The rows and rejects of one file, log type `log_type`, inside its transaction `tx`
    (store.Chunked); counts what loaded, what was a duplicate, what was rejected."""

    def __init__(self, tx, log_type: str, *, file_id: str, label: str, root: "RecordWriter | None" = None):
        self.tx, self.con = tx, tx.con
        # the writers of one file's several ZPA LSS types share its chunk commits (the root's)
        self.root = root or self
        self.log_type, self.file_id, self.label = log_type, file_id, label
        self.prefix = ledger.rid_prefix(file_id)
        cols = list(COLUMNS[log_type]) + DERIVED.get(log_type, [])
        self.key_sql, self.insert_sql, self.insert_unique_sql = insert_sql(self.con, log_type, cols)
        self.loaded = self.duplicate = self.rejected = 0
        self.first_event = self.last_event = None
        self.pending: list[pa.Table] = []
        self.pending_rows = self.pending_bytes = self.uncommitted = self.uncommitted_bytes = 0
        self.chunked = False

    def add(self, rows: pa.Table) -> None:
        """Staged rows to load (the table's columns); flushed once enough are pending."""
        self.pending.append(rows)
        self.pending_rows += rows.num_rows
        self.pending_bytes += rows.nbytes
        if self.pending_rows >= FLUSH_ROWS or self.pending_bytes >= FLUSH_BYTES:
            self.flush()

    def reject(self, lines, texts, reasons, *, lengths=None, sha256s=None) -> None:
        """Rejected lines, with their reasons (see ledger.insert_rejects)."""
        n = ledger.insert_rejects(self.con, self.file_id, self.label, lines, texts, reasons,
                                  lengths=lengths, sha256s=sha256s)
        self.rejected += n
        self.root.uncommitted_bytes += n * limits.REJECT_KEEP_CHARS
        self.root._maybe_commit()

    def flush(self) -> None:
        """Append the pending rows in one INSERT, but no record whose natural key its table
        already holds: those count as duplicates (see the module docstring)."""
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        self.pending, self.pending_rows, self.pending_bytes = [], 0, 0
        span = pc.min_max(table["event_time"]).as_py()
        if "record_key" not in table.column_names:             # not hashed ahead by a worker
            table = with_record_keys(self.con, self.key_sql, table)
        sql = self.insert_sql if may_repeat_key(table) else self.insert_unique_sql
        with queries.registered(self.con, {STAGE: table}):
            inserted = self.con.execute(sql, [self.prefix, self.file_id, self.label,
                                              span["min"], span["max"]]).fetchone()[0]
        self.loaded += inserted
        self.duplicate += table.num_rows - inserted
        if span["min"] is not None:
            self.first_event = span["min"] if self.first_event is None else min(self.first_event, span["min"])
            self.last_event = span["max"] if self.last_event is None else max(self.last_event, span["max"])
        self.root.uncommitted += table.num_rows
        self.root.uncommitted_bytes += table.nbytes
        self.root._maybe_commit()

    def _maybe_commit(self) -> None:
        if self.uncommitted >= CHUNK_ROWS or self.uncommitted_bytes >= CHUNK_BYTES:
            if not self.chunked:        # committed rows without a ledger row: swept on open if killed
                ledger.begin_inflight(self.con, self.file_id, self.log_type, self.label, ledger.now_utc())
            self.tx.commit_chunk()
            _test_kill_point("after_chunk_commit")
            self.uncommitted = self.uncommitted_bytes = 0
            self.chunked = True


@dataclass(frozen=True)
class KeySql:
    """queries/ingest/record_keys.sql for a table: `full` hashes what migration 004 hashes (the
    recordid where a record has one, else the whole normalized record); `by_id` (tables with a
    record_id) is the same key for a batch whose every row has a recordid, and reads that column
    alone (DuckDB would otherwise scan every column of the batch for the CASE's other branch)."""
    full: str
    by_id: str | None = None


def record_key_sql(con, log_type: str) -> KeySql:
    """queries/ingest/record_keys.sql for the table of `log_type` (see insert_sql)."""
    return insert_sql(con, log_type, list(COLUMNS[log_type]) + DERIVED.get(log_type, []))[0]


def with_record_keys(con, key_sql: KeySql, table: pa.Table, rows: pa.Array | None = None) -> pa.Table:
    """`table` with its column record_key, hashed once in DuckDB (`key_sql`: record_key_sql) on
    `con`; with `rows` (a mask), only those rows are hashed and the others' keys are NULL."""
    sql, part = key_sql.full, None
    if key_sql.by_id is not None:
        ids = table["record_id"] if rows is None else pc.filter(table["record_id"], rows)
        if ids.null_count == 0:
            sql, part = key_sql.by_id, pa.table({"record_id": ids})
    if part is None:
        part = table if rows is None else table.filter(rows)
    with queries.registered(con, {STAGE: part}):
        keys = queries.arrow_table(con, sql)["record_key"].combine_chunks()
    if rows is not None:
        keys = pc.replace_with_mask(pa.nulls(table.num_rows, keys.type), rows, keys)
    return table.append_column("record_key", keys)


def may_repeat_key(table: pa.Table) -> bool:
    """Whether two rows of a staged batch may share (event_time, record_key): false only when
    they cannot (the two mixed into one number are all distinct, none NULL; a collision just
    says maybe). Polars counts the distinct numbers in a third of Arrow's time."""
    micros = pc.cast(pc.cast(table["event_time"], pa.int64()), pa.uint64(), safe=False)
    mixed = pc.bit_wise_xor(table["record_key"], micros)
    return mixed.null_count > 0 or pl.from_arrow(mixed).n_unique() < table.num_rows


def insert_sql(con, table: str, cols: list[str]) -> tuple[KeySql, str, str]:
    """(queries/ingest/record_keys.sql, insert_records.sql with the first line of each repeated
    key, insert_records.sql for a batch that repeats none) for `table`. The record key (see
    migrations/004_record_keys.sql) hashes each column cast to the table's own type, so a row
    hashes as the migration hashed it."""
    # in table order, as the migration's hash(*COLUMNS(...)) takes them; every store is migrated
    # to the same schema when opened, so the columns are read once a process, not once a file
    types = _TABLE_COLUMNS.get(table)
    if not types:
        types = _TABLE_COLUMNS[table] = queries.cursor(con, "ingest/table_columns", {"table": table}).fetchall()
    hashed = [(c, t) for c, t in types if c in {*cols, "extra"}]     # the record's own values
    content = "hash(" + ", ".join(f"CAST({c} AS {t})" for c, t in hashed) + ")"
    by_id = "hash(CAST(record_id AS BIGINT))"
    key = f"CASE WHEN record_id IS NOT NULL THEN {by_id} ELSE {content} END" if "record_id" in cols else content
    # identifiers from COLUMNS and the schema, never from input; values are bound
    keys, insert = queries.load("ingest/record_keys"), queries.load("ingest/insert_records")
    return (KeySql(keys.format(key=key), keys.format(key=by_id) if "record_id" in cols else None),
            insert.format(table=table, columns=", ".join(cols), qualify=queries.load("ingest/first_of_each_key")),
            insert.format(table=table, columns=", ".join(cols), qualify=""))


def _test_kill_point(name: str) -> None:
    """Test hook (tests/test_orphans.py): ZSAUDIT_TEST_KILL_AT=<name> kills the process here, as
    a power cut or `kill -9` would."""
    if os.environ.get("ZSAUDIT_TEST_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
