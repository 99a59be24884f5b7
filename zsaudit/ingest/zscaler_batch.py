"""A Zscaler file's raw line batches through its plan's batch SQL: the staged rows.

A BatchStatement is compiled once per file from its plan (zscaler_sniff): the key layout of its
template lines, the Polars split stages and the batch SQL (zscaler_sql), with the time format its
first lines have (zscaler_time_probe). It turns a batch of raw lines into staged rows, one per
line, `bad` saying why a line is refused (NULL: load it). It runs on DuckDB cursors of its own,
never on the file's transaction: a line that makes the statement fail is isolated and rejected
with the error (stage_isolated), and costs only that line. stage_in_order() runs it on
STAGE_THREADS threads while the caller consumes the batches in file order; with one thread (an
ingest given one core: a 1-cpu Spark task, `[ingest] workers = 1`) it stages and consumes each
batch in turn.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .. import queries
from . import limits, zscaler_sql, zscaler_time_probe
from .limits import LongLine
from .zscaler_sniff import Plan

STAGE_THREADS = 2                # batches decoded and run through the batch SQL at once (2 cores or more)
# a batch of at most this many lines runs the statement planned faster and run slower
# (zscaler_sql.nulls_as_list): a kv batch's ~147M instructions of planning saved against ~10k a
# line more to run, even at ~15k lines (callgrind, docs/benchmarks.md, session 16)
FEW_LINES = 4096

# the staged schema of each batch SQL compiled in this process (BatchStatement.staged_schema)
_SCHEMAS: dict[tuple, pa.Schema] = {}
_SCHEMAS_LOCK = threading.Lock()

# one staged batch: the statement's rows, a line the reader cut at the cap, or nothing (blank lines)
Staged = pa.Table | tuple[int, LongLine] | None


class BatchStatement:
    """The plan's batch SQL and what goes with it, compiled on `con` (a cursor of the store with
    the file's TimeZone set), which it keeps for its own runs (schema, single batches, repairs)."""

    def __init__(self, con, plan: Plan, max_line_bytes: int = limits.MAX_LINE_BYTES, hand_on: bool = True):
        self.con, self.plan, self.max_line_bytes = con, plan, max_line_bytes
        self._schema: pa.Schema | None = None
        layout = _layout(con, plan) if plan.fmt in ("kv", "cef", "leef") else None
        self.split_stages = zscaler_sql.split_exprs(plan, layout)
        self.counts_quotes = zscaler_sql.json_template(plan) is not None     # the template test's `qb`
        self.strips_quotes = zscaler_sql.strips_quotes(plan)                 # INSIDE_QUOTES
        self.sql, self.params = zscaler_sql.build(plan, layout, hand_on=hand_on)
        self.sql_few = self._few_lines_sql(layout, None, hand_on)
        first_time = zscaler_time_probe.first_time_format(con, plan, self.sql_few, self.params, self._sample)
        if first_time is not None:
            self.sql, self.params = zscaler_sql.build(plan, layout, first_time, hand_on=hand_on)
            self.sql_few = self._few_lines_sql(layout, first_time, hand_on)
        self.params = queries.bind(self.sql, self.params, strict=False)
        self.derives_host = zscaler_sql.derives_host(plan)

    def _few_lines_sql(self, layout: dict | None, first_time: str | None, hand_on: bool) -> str:
        """The batch SQL for a batch of at most FEW_LINES lines (zscaler_sql.nulls_as_list): the
        same rows and parameters as self.sql, planned in about half the time."""
        if not zscaler_sql.nulls_as_list(self.plan):
            return self.sql
        return zscaler_sql.build(self.plan, layout, first_time, hand_on=hand_on, few_lines=True)[0]

    def sql_for(self, lines: int) -> str:
        """The batch SQL for a batch of `lines` lines."""
        return self.sql_few if lines <= FEW_LINES else self.sql

    def _sample(self) -> pa.Table | None:
        """The plan's sniffed lines as a batch, cleaned and split as any batch is."""
        if not self.plan.sample:
            return None
        tab = clean(pa.table({"line": pa.array(range(1, len(self.plan.sample) + 1), pa.int64()),
                              "text": pa.array(self.plan.sample, pa.string())}))
        return self.split(tab) if tab is not None else None

    # -- a batch of raw lines -> staged rows ----------------------------------------------------
    def prepare(self, first: int, body, con) -> Staged:
        """One batch of raw lines (bytes, or already split: decode_lines), cut, numbered and run
        through the batch SQL on `con`."""
        if isinstance(body, LongLine):
            return first, body
        tab = self.numbered(first, body if isinstance(body, pa.Array) else decode_lines(body))
        return self.checked(tab, con) if tab is not None else None

    def numbered(self, first: int, lines: pa.Array) -> pa.Table | None:
        if self.plan.unwrap:
            lines = unwrap(self.plan.unwrap, lines)
        if self.plan.skip_header and first == 1:
            lines = lines[1:]
            first = 2
            while len(lines) and not lines[0].as_py().strip():
                lines, first = lines[1:], first + 1
        if not len(lines):
            return None
        numbers = pl.int_range(first, first + len(lines), dtype=pl.Int64, eager=True).to_arrow()
        return clean(pa.table({"line": numbers, "text": lines}))

    def checked(self, tab: pa.Table, con) -> pa.Table:
        """The batch SQL's rows for `tab`, lines over a cap (limits.py) rejected with the cap."""
        capped = self._over_caps(tab)
        if capped is None:
            return self.stage_isolated(tab, con)
        keep, reasons = capped
        rejected = self.rejected_rows(tab.filter(pc.invert(keep)), reasons)
        staged = self.stage_isolated(tab.filter(keep), con) if pc.any(keep).as_py() else None
        return rejected if staged is None else pa.concat_tables([staged, rejected.cast(staged.schema)])

    def _over_caps(self, tab: pa.Table) -> tuple[pa.Array, pa.Array] | None:
        """(mask of lines within the caps, reasons of the others), or None when all are within.
        Counted by Polars (a few ms per 16 MiB batch; Arrow's count_substring is ten times slower)."""
        text = pl.from_arrow(tab["text"])
        capped = limits.over_caps(text, self.max_line_bytes, fields=self._long_field_count(text),
                                  json_lines=self.plan.fmt == "json")
        if capped is None:
            return None
        bad, reasons = capped
        return (~bad).to_arrow(), pa.array(reasons, pa.string())

    def _long_field_count(self, text: pl.Series) -> pl.Series | None:
        """_field_count of the lines that could be over limits.MAX_FIELDS, 0 for the others, or
        None when none could: a line holds at most one field more than it has bytes, and counting
        the separators of every line cost ~0.5 CPU-s per million kv or CSV lines."""
        if self.plan.fmt == "json":     # not counted: a JSON line costs its length, not its keys
            return None                 # (the plan reads at most 256)
        long = text.str.len_bytes() >= limits.MAX_FIELDS
        if not long.any():
            return None
        if long.all():
            return self._field_count(text)
        return pl.zeros(len(text), pl.UInt32, eager=True).scatter(long.arg_true(),
                                                                 self._field_count(text.filter(long)))

    def _field_count(self, text: pl.Series) -> pl.Series:
        """Fields on each line, counted on its separators (an upper bound: values may hold them)."""
        fmt = self.plan.fmt
        if fmt in ("csv", "tsv", "kv") or (fmt == "leef" and not self.plan.split_regex):
            return text.str.count_matches(self.plan.delim or "\t", literal=True) + 1
        return text.str.count_matches("=", literal=True)

    def stage_isolated(self, tab: pa.Table, con=None) -> pa.Table:
        """stage, and when the statement fails on the batch, on each half in turn, down to the
        line that makes it fail: that line is rejected with the error, the others load."""
        try:
            return self.stage(tab, con)
        except Exception as exc:                 # DuckDB, Polars or Arrow refusing some line
            if tab.num_rows == 1:
                what = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                return self.rejected_rows(tab, pa.array([f"could not be read ({type(exc).__name__}: {what})"]))
            half = tab.num_rows // 2
            parts = [self.stage_isolated(tab.slice(0, half), con), self.stage_isolated(tab.slice(half), con)]
            return pa.concat_tables([p.cast(self.staged_schema()) for p in parts])

    def stage(self, batch: pa.Table, con=None) -> pa.Table:
        """The batch SQL's rows for the (numbered, clean) lines of `batch`, on `con` (default: its own)."""
        return self.run(self.split(batch), con)

    def run(self, split: pa.Table, con=None) -> pa.Table:
        """The batch SQL over lines already split (split())."""
        con = con if con is not None else self.con
        with queries.registered(con, {zscaler_sql.BATCH_TABLE: split}):
            staged = queries.arrow_table(con, self.sql_for(split.num_rows), self.params)
        staged = _with_derived_hosts(staged, con) if self.derives_host else staged
        if self._schema is None and split.num_rows:
            self._learn_schema(split.schema, staged.schema)
        return staged

    def _empty_split(self) -> pa.Table:
        """No lines, split as a batch is: the input staged_schema() runs the batch SQL over."""
        empty = pa.table({"line": pa.array([], pa.int64()), "text": pa.array([], pa.string())})
        if self.plan.fmt in ("cef", "leef") and self.plan.split_regex and not self.split_stages:
            empty = presplit(self.plan, empty)
        return self.split(empty)

    def _schema_key(self, split_schema: pa.Schema) -> tuple:
        # what the output's types depend on: the SQL, its parameters' values, the input's columns
        return self.sql, repr(sorted(self.params.items())), split_schema.to_string()

    def _keep_schema(self, key: tuple, schema: pa.Schema) -> None:
        self._schema = schema
        with _SCHEMAS_LOCK:
            if len(_SCHEMAS) >= 64:
                _SCHEMAS.clear()
            _SCHEMAS[key] = schema

    def _learn_schema(self, split_schema: pa.Schema, staged_schema: pa.Schema) -> None:
        """A batch's run over the columns the empty split has gives the staged schema itself (the
        output's types come from the SQL, its parameters and the input's DuckDB types, not from
        the values; Arrow's string and large_string are both VARCHAR): kept, so that
        staged_schema() does not compile the batch SQL again for it."""
        empty = self._empty_split().schema
        if _as_duckdb_sees(split_schema) == _as_duckdb_sees(empty):
            self._keep_schema(self._schema_key(empty), staged_schema)

    def staged_schema(self) -> pa.Schema:
        """The columns the batch SQL gives (from a run over no lines, or a first batch's run
        over the same columns). A night's files of one feed compile the same SQL over the same
        split columns: the schema is kept (_SCHEMAS), and the batch SQL's compile, tens of ms,
        is paid once, not once per file; a file's first batch run before it is asked for
        (_stage_file) saves a small file's second compile."""
        if self._schema is None:
            split = self._empty_split()
            key = self._schema_key(split.schema)
            with _SCHEMAS_LOCK:
                schema = _SCHEMAS.get(key)
            self._keep_schema(key, schema if schema is not None else self.run(split).schema)
        return self._schema

    def rejected_rows(self, tab: pa.Table, reasons: pa.Array) -> pa.Table:
        """Staged rows for lines refused before or by the batch SQL: `bad` says why."""
        schema, n = self.staged_schema(), tab.num_rows
        given = {"line": tab["line"], "text": tab["text"], "bad": reasons,
                 "drift": pa.array([False] * n), "nfields": pa.array([0] * n, pa.int32())}
        return pa.table([given[f.name].cast(f.type) if f.name in given else pa.nulls(n, f.type)
                         for f in schema], schema=schema)

    def split(self, tab: pa.Table) -> pa.Table:
        """Add `ok` and the parts of template lines, split by Polars (zscaler_sql.split_exprs);
        for a JSON template, `qb`: each line's quotes (quote_counts); for quoted CSV / TSV, each
        line without its first and last character (zscaler_sql.INSIDE_QUOTES), as DuckDB's
        `text[2:length(text) - 1]` gives it (code points), cut by Arrow at ~0.15 us a line where
        DuckDB counted every character and copied the line (~7k instructions a line)."""
        if self.counts_quotes:
            return tab.append_column("qb", quote_counts(tab["text"]))
        if self.strips_quotes:
            return tab.append_column(zscaler_sql.INSIDE_QUOTES, pc.utf8_slice_codeunits(tab["text"], 1, -1))
        if not self.split_stages:
            return tab
        df = pl.from_arrow(tab)
        for stage in self.split_stages:
            df = df.with_columns(stage)
        return df.drop(["_src", "_parts", "_n"], strict=False).to_arrow(compat_level=pl.CompatLevel.newest())


def _as_duckdb_sees(schema: pa.Schema) -> str:
    """`schema` with large_string columns as string (DuckDB reads both as VARCHAR), as text."""
    return pa.schema([f.with_type(pa.string()) if f.type == pa.large_string() else f for f in schema]).to_string()


def _with_derived_hosts(staged: pa.Table, con) -> pa.Table:
    """`staged` with the host of each row that has a URL but no host taken from the URL
    (zscaler_sql.host_sql), host_derived true where one was found: the batch SQL's
    `r_host IS NULL AND host IS NOT NULL`, for the few rows that need it. The hosts come back in
    the URLs' order, which DuckDB keeps for a projection only with preserve_insertion_order on: it
    is the default and the ingest never turns it off, but it is held on here, not assumed (a
    connection that had it off would pair rows with other rows' hosts, silently)."""
    need = pc.and_(pc.is_null(staged["host"]), pc.is_valid(staged["url"])).combine_chunks()
    if not pc.any(need).as_py():
        return staged
    with queries.registered(con, {zscaler_sql.HOST_TABLE: pa.table({"url": staged["url"].filter(need)})}), \
            queries.settings(con, preserve_insertion_order=True):
        hosts = queries.arrow_table(con, zscaler_sql.host_sql())["host"].combine_chunks()
    i, j = staged.schema.get_field_index("host"), staged.schema.get_field_index("host_derived")
    host = pc.replace_with_mask(staged["host"].combine_chunks(), need, hosts.cast(staged.schema.field(i).type))
    staged = staged.set_column(i, staged.schema.field(i), host)
    return staged.set_column(j, staged.schema.field(j), pc.and_(need, pc.is_valid(host)))


def stage_in_order(statement: BatchStatement, chunks: Iterable[tuple[int, bytes | memoryview | LongLine]],
                   consume: Callable[[Staged], None], tz: str, threads: int = STAGE_THREADS) -> None:
    """Batches of raw lines (lines.iter_chunks) through `statement`, each staged batch handed to
    `consume` in file order. `threads` threads (at most STAGE_THREADS), each on its own DuckDB
    cursor with the file's TimeZone `tz`, decode, split and run the batch SQL (DuckDB, Arrow and
    Polars release the GIL) while this thread consumes the finished batches. With one thread the
    overlap would still keep two cores busy: this thread stages each batch, then consumes it."""
    threads = max(1, min(threads, STAGE_THREADS))
    chunks = iter(chunks)
    head = [c for c in (next(chunks, None), next(chunks, None)) if c is not None]
    if len(head) < 2 or threads == 1:         # one batch, or one core: in turn, no threads
        for first, body in itertools.chain(head, chunks):
            consume(statement.prepare(first, body, statement.con))
        return
    # compiled here, not first in a stage thread on statement.con, which the caller's thread
    # uses meanwhile (a JSON repair) and a DuckDB connection refuses two calls at once
    statement.staged_schema()
    local = threading.local()
    cursors = []

    def prepare(first: int, body) -> Staged:
        cur = getattr(local, "cur", None)
        if cur is None:
            cur = local.cur = statement.con.cursor()
            cursors.append(cur)
            queries.set_option(cur, "TimeZone", tz)
        return statement.prepare(first, body, cur)

    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="zsaudit-stage") as pool:
            inflight: deque = deque()
            try:
                for first, body in itertools.chain(head, chunks):
                    inflight.append(pool.submit(prepare, first, body))
                    while len(inflight) > threads:
                        consume(inflight.popleft().result())
                while inflight:
                    consume(inflight.popleft().result())
            finally:
                for fut in inflight:
                    fut.cancel()
    finally:                                  # the pool has joined its threads here
        for cur in cursors:
            cur.close()


# -- lines -------------------------------------------------------------------------------------
def decode_lines(body: bytes | memoryview) -> pa.Array:
    """The lines of `body`; invalid UTF-8 becomes U+FFFD. Arrow reads the bytes in place,
    validates and splits them without a Python string (and without holding the GIL); only a
    batch with bad bytes is decoded here."""
    offsets = pa.array([0, len(body)], pa.int64()).buffers()[1]
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(body)])
    try:
        text.validate(full=True)                  # UTF-8
    except pa.ArrowInvalid:
        text = pa.array([bytes(body).decode("utf-8", errors="replace")], pa.large_string())
    return pc.split_pattern(text, "\n").flatten()


def quote_counts(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """The quotes on each line of `text` (INT32; 0 for a null): the JSON template test's count
    (zscaler_json_layout). Each chunk's bytes are viewed as a list of bytes a line, in place, and
    counted by Polars (~0.4 us a 900-byte line; quotes and backslashes together cost ~0.2 us more
    and more page faults than the backslash test in SQL, a memchr); counting matches (Polars'
    count_matches, Arrow's count_substring) costs ~15 ns a match, 2-3.5 us a line."""
    chunks = []
    for arr in text.chunks:
        large = arr.type == pa.large_string()
        if not large and arr.type != pa.string():
            arr, large = arr.cast(pa.large_string()), True
        _, offsets, data = arr.buffers()
        if data is None or not len(arr):
            chunks.append(pa.array([0] * len(arr), pa.int32()))
            continue
        at = pa.Array.from_buffers(pa.int64() if large else pa.int32(), len(arr) + 1, [None, offsets],
                                   offset=arr.offset)
        lines = (pa.LargeListArray if large else pa.ListArray).from_arrays(
            at, pa.Array.from_buffers(pa.uint8(), data.size, [None, data]))
        b = pl.element()
        counts = pl.from_arrow(lines).list.eval(b == 34).list.sum()
        chunks.append(counts.to_arrow().cast(pa.int32()))
    return pa.chunked_array(chunks, pa.int32())


def clean(tab: pa.Table) -> pa.Table | None:
    """Strip a trailing CR; drop blank lines (empty or only whitespace: not records)."""
    text = tab["text"]
    if pc.any(pc.ends_with(text, "\r")).as_py():
        text = pc.utf8_rtrim(text, characters="\r")
    # utf8_is_space is false for ""; filter only when needed
    blank = pc.or_(pc.equal(pc.binary_length(text), 0), pc.utf8_is_space(text))
    tab = pa.table({"line": tab["line"], "text": text})
    if pc.any(blank).as_py():
        tab = tab.filter(pc.invert(blank))
    return tab if tab.num_rows else None


def unwrap(how: str, lines: pa.Array) -> pa.Array:
    """The records of a Splunk search export: each row's _raw (see zscaler_sniff._splunk_export).
    A row without _raw that is an export's own bookkeeping (`{"preview":false,"lastrow":true}`)
    becomes blank (not a record); any other stays as written, to be rejected as what it is."""
    text = pl.from_arrow(lines)
    kind, _, where = how.partition(":")
    if kind == "json":
        raw = text.str.json_path_match(where)
        meta = raw.is_null() & text.str.json_path_match("$.preview").is_not_null()
        out = pl.select(pl.when(meta).then(pl.lit("")).otherwise(raw.fill_null(text))).to_series()
    else:            # csv: the field at index `where`, its quotes undone
        fields = ("," + text).str.extract_all(r',("(?:[^"]|"")*"|[^,]*)')
        field = fields.list.get(int(where), null_on_oob=True).str.slice(1)
        quoted = field.str.starts_with('"') & field.str.ends_with('"') & (field.str.len_bytes() >= 2)
        inner = field.str.slice(1, field.str.len_chars() - 2).str.replace_all('""', '"', literal=True)
        out = pl.select(pl.when(quoted).then(inner).otherwise(field).fill_null(text)).to_series()
    return out.to_arrow().cast(lines.type)


def presplit(plan: Plan, tab: pa.Table) -> pa.Table:
    """Add the column `pre` (parts marked for splitting) for space-delimited CEF / LEEF plans."""
    expr = zscaler_sql.presplit(plan, pl.col("text"))
    if expr is None:
        return tab
    pre = pl.from_arrow(tab.select(["text"])).select(expr.alias("pre")).to_arrow()["pre"]
    return tab.append_column("pre", pre)


def _layout(con, plan: Plan) -> dict:
    """The template's key sequence (`sig`) and each key's position, from the sniffed lines."""
    sample = presplit(plan, pa.table({"text": pa.array(plan.sample, pa.string())}))
    sql = zscaler_sql.layout_sql(plan)
    with queries.registered(con, {zscaler_sql.BATCH_TABLE: sample}):
        rows = con.sql(sql, params=queries.bind(sql, {"split": plan.split_regex, "delim": plan.delim},
                                                   strict=False)).fetchall()
    sig = Counter(tuple(r[1]) for r in rows).most_common(1)[0][0]
    parts = next(r[0] for r in rows if tuple(r[1]) == sig)
    positions: dict[str, int] = {}
    for j, part in enumerate(parts, 1):
        if "=" in part:
            positions.setdefault(part.split("=", 1)[0].strip(), j)
    return {"sig": list(sig), "positions": positions}
