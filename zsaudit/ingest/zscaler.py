"""Zscaler ingest: ZIA web / firewall / DNS (NSS) and ZPA user activity / status (LSS) into DuckDB.

Per file: sha256 (same content twice is skipped), sniff format and log type from the first
lines (zscaler_sniff), then stream the file in line batches through one DuckDB statement per
batch (zscaler_sql) that splits, normalises, types and judges every line. Lines that fail are
kept in `rejects` with their reason; JSON lines broken by unescaped quotes get one repair try in
Python first. The file's rows, rejects and ledger row commit together or not at all.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .. import queries
from ..errors import INTERNAL_ERROR, BadInput
from ..progress import QUIET, Progress
from . import ledger, limits, sources, zscaler_sql
from .ledger import FileResult
from .limits import LongLine
from .lines import iter_chunks, iter_json_document, open_input
from .nss_fields import COLUMNS, DERIVED, delimited_layout
from .zscaler_repair import repair_json_line
from .zscaler_sniff import Plan, sniff

MEMORY_LIMIT = os.environ.get("ZSAUDIT_INGEST_MEMORY", "512MB")   # DuckDB buffer pool while ingesting
FLUSH_ROWS = 122_880            # one DuckDB row group per INSERT
FLUSH_BYTES = 32 << 20          # ... or fewer rows when they are this large (wide lines)
CHUNK_ROWS = int(os.environ.get("ZSAUDIT_INGEST_CHUNK_ROWS") or 150_000)   # rows per transaction for larger files
CHUNK_BYTES = 128 << 20         # ... or bytes (rows + rejects): bounds a transaction's memory
BATCH_BYTES = 16 << 20           # decompressed bytes per batch: bounds memory per file
# DuckDB threads per statement while ingesting: the two stage threads already keep both cores busy
INGEST_THREADS = os.environ.get("ZSAUDIT_INGEST_THREADS", "1")
STAGE_THREADS = 2                # batches decoded and run through the batch SQL at once
SNIFF_BYTES = 256 << 10
_VALID_TZ = re.compile(r"^[A-Za-z0-9_+\-/:]+$")


@dataclass
class _Input:
    label: str          # what the user named (path, object URL, or <stdin>)
    path: Path | sources.RemoteFile     # readable file, or an object copied to one when its turn comes
    temporary: bool = False


class FileRefused(BadInput):
    """No line of the file could be a record; `result` is its ledger row (status refused)."""

    def __init__(self, message: str, result: FileResult):
        super().__init__(message)
        self.result = result


class IngestErrors(BadInput):
    """One or more files could not be ingested; `results` holds what did load."""

    def __init__(self, message: str, results: list[FileResult]):
        super().__init__(message)
        self.results = results


class IngestInternalError(IngestErrors):
    """A file failed on a defect of zsaudit, not of its input (the other files were ingested)."""

    exit_code = INTERNAL_ERROR


# ---------------------------------------------------------------------------------------------
def ingest_paths(store, paths: Iterable[str | os.PathLike], *, fmt: str = "auto", fields: str | None = None,
                 tz: str = "UTC", progress: Progress = QUIET,
                 max_line_bytes: int = limits.MAX_LINE_BYTES) -> list[FileResult]:
    """Ingest Zscaler log files, directories (recursive), .gz files, or '-' (stdin).

    A file that fails does not stop the others: its error is collected and raised at the end
    (IngestErrors; IngestInternalError, exit code 3, when zsaudit itself failed on it)."""
    if max_line_bytes < 1024:
        raise BadInput(f"--max-line-bytes: expected at least 1024, got {max_line_bytes}")
    if fmt not in ("auto", "json", "csv", "tsv", "kv", "leef", "cef"):
        raise BadInput(f"--format: expected auto, json, csv, tsv, kv, leef or cef, got {fmt!r}")
    _check_tz(store, tz)
    if fields:
        try:
            delimited_layout(fields)
        except ValueError as exc:
            raise BadInput(f"--fields: {exc}; expected the feed's NSS format string such as "
                           "'\"%s{time}\",\"%s{login}\",\"%s{eurl}\"'") from None
    inputs = list(_expand(paths))
    with store.transaction() as con:
        ledger.sweep_orphans(con)
    results: list[FileResult] = []
    errors: list[str] = []
    internal: Exception | None = None
    # DuckDB keeps a file's uncommitted rows in its buffer pool (80% of RAM by default); a bounded
    # pool makes it spill to the database file instead, so memory does not grow with the input.
    previous_threads = queries.setting(store.con, "threads")
    caps = {"memory_limit": MEMORY_LIMIT} if re.fullmatch(r"[0-9.]+ ?[KMGT]i?B", MEMORY_LIMIT or "") else {}
    if INGEST_THREADS.isdigit() and int(INGEST_THREADS) > 0:
        caps["threads"] = int(INGEST_THREADS)
    previous = queries.apply_settings(store.con, **caps)
    try:
        sizes = [_size(item.path) for item in inputs]
        with progress.meter(sum(sizes), label="ingest zscaler") as advance:
            for i, (item, size) in enumerate(zip(inputs, sizes), 1):
                seen = [0]

                def on_bytes(n: int, seen=seen) -> None:
                    seen[0] += n
                    advance(n)

                try:
                    with sources.readable(item.path) as path:
                        result = ingest_file(store, path, label=item.label, fmt=fmt, fields=fields, tz=tz,
                                             on_bytes=on_bytes, max_line_bytes=max_line_bytes)
                except FileRefused as exc:
                    errors.append(str(exc))
                    results.append(exc.result)
                    continue
                except BadInput as exc:
                    errors.append(str(exc))
                    continue
                except Exception as exc:           # a defect of ours: the other files still load
                    internal = internal or exc
                    errors.append(f"{item.label}: not ingested: internal error ({type(exc).__name__}: "
                                  f"{str(exc)[:300]}); please report it")
                    continue
                finally:
                    advance(max(0, size - seen[0]))     # skipped, whole-document or failed files
                    if not progress.is_tty:             # plain lines: files done, besides the tenths
                        progress.log(f"ingest zscaler: {i}/{len(inputs)} files")
                results.append(result)
                for w in result.warnings:
                    progress.log(f"warning: {w}")
    finally:
        queries.set_option(store.con, "threads", previous_threads)
        try:
            # write the new rows into the file now, under the cap; otherwise the checkpoint at
            # close runs with the default limit and its memory grows with what was ingested
            queries.run(store.con, "store/checkpoint")
        except Exception:
            pass
        queries.apply_settings(store.con, **previous)
        for item in inputs:
            if item.temporary:
                item.path.unlink(missing_ok=True)
    if errors:
        if internal is not None:       # --debug prints the first one's traceback
            raise IngestInternalError("\n".join(errors), results) from internal
        raise IngestErrors("\n".join(errors), results)
    return results


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _check_tz(store, tz: str) -> None:
    if not tz or not _VALID_TZ.match(tz):
        raise BadInput(f"--tz: expected a time zone name such as UTC or Europe/Berlin, got {tz!r}")
    try:
        queries.scalar(store.con, "ingest/check_tz", {"tz": tz})
    except Exception:
        raise BadInput(f"--tz: unknown time zone {tz!r}; expected an IANA name such as UTC or Europe/Berlin") from None


def _expand(paths) -> Iterator[_Input]:
    for raw in paths:
        text = str(raw)
        if text == "-":
            yield _spool_stdin()
            continue
        if sources.is_remote(text):
            objects = sources.remote_files(text)
            if not objects:
                raise BadInput(f"{text}: matches no object; expected Zscaler log objects under this prefix")
            for obj in objects:
                yield _Input(obj.url, obj)
            continue
        text = sources.local_path(text)
        p = Path(text)
        if p.is_dir():
            for f in sources.local_files(p):
                yield _Input(str(f), f)
        elif p.is_file():
            yield _Input(text, p)
        else:
            raise BadInput(f"{text}: no such file or directory; expected Zscaler log files, directories, "
                           "s3:// gs:// az:// prefixes or globs, or -")


def _spool_stdin() -> _Input:
    """Copy standard input to a temporary file (bounded memory) so it can be hashed and sniffed."""
    fd, name = tempfile.mkstemp(prefix="zsaudit-stdin-", suffix=".log")
    with os.fdopen(fd, "wb") as out:
        src = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(sys.stdin.read().encode())
        shutil.copyfileobj(src, out, 1 << 20)
    return _Input("<stdin>", Path(name), temporary=True)


_open = open_input


def _iter_chunks(fh: IO[bytes], label: str, batch_bytes: int | None = None, on_bytes=None,
                 max_line_bytes: int | None = None) -> Iterator[tuple[int, bytes | memoryview | LongLine]]:
    """iter_chunks (lines.py) with this ingester's batch size (BATCH_BYTES)."""
    return iter_chunks(fh, label, batch_bytes or BATCH_BYTES, on_bytes=on_bytes, max_line_bytes=max_line_bytes)


def _decode_lines(body: bytes | memoryview) -> pa.Array:
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


def _head_lines(path: Path, label: str) -> tuple[list[str], bytes]:
    with _open(path) as fh:
        try:
            head = fh.read(SNIFF_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise BadInput(f"{label}: cannot read ({exc}); expected a plain or gzip-compressed text file") from None
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if len(head) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]                       # last one may be cut
    return lines, head


# ---------------------------------------------------------------------------------------------
def ingest_file(store, path: Path, *, label: str | None = None, fmt: str = "auto", fields: str | None = None,
                tz: str = "UTC", on_bytes=None, max_line_bytes: int = limits.MAX_LINE_BYTES) -> FileResult:
    """One file, all or nothing (see module docstring). `on_bytes(n)` is told, batch by batch,
    how many bytes of the file (compressed bytes for .gz) have been read."""
    label = label or str(path)
    try:
        size = path.stat().st_size
        sha = ledger.sha256_file(path)
    except OSError as exc:
        raise BadInput(f"{label}: cannot read ({exc.strerror or exc}); expected a readable file") from None
    if store.ledger_has(sha):
        return FileResult(path=label, sha256=sha, skipped=True)
    started = ledger.now_utc()
    result = FileResult(path=label, sha256=sha, source_kind="zscaler", format=fmt if fmt != "auto" else "")
    try:
        head_lines, head = _head_lines(path, label)
        document = False
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"[") or (stripped.startswith(b"{") and _first_line_unfinished(head_lines)):
            try:
                head_lines = _json_document_head(path, label, max_line_bytes)
            except BadInput:
                if not _other_lines_json(head_lines):    # one JSON object per line, but line 1 is cut
                    raise
            else:
                document = True
        try:
            plan = sniff(label, head_lines, fmt=fmt, fields=fields)
        except BadInput as exc:
            if b"\x00" in head[:4096]:
                raise BadInput(f"{label}: binary content; expected Zscaler log text (JSON, CSV/TSV, "
                               "key=value, LEEF, CEF)") from exc
            raise
        result.source_kind, result.format = plan.log_type, plan.fmt
        if plan.note:                                  # a SIEM export: which one
            result.note = plan.note
        return _load_file(store, path, label, plan, document, result, size, started, plan.time_zone or tz,
                          on_bytes, max_line_bytes)
    except BadInput as exc:
        # no line of the file can be a record: the ledger says so, and why (the pack lists it)
        reason = str(exc)
        result.refused = reason[len(label) + 2:] if reason.startswith(f"{label}: ") else reason
        result.lines_read = result.rows_loaded = result.rows_rejected = result.rows_duplicate = 0
        with store.transaction() as con:
            ledger.record(con, result, size=size, started_at=started)
        raise FileRefused(reason, result) from None


def _load_file(store, path, label, plan, document, result, size, started, tz, on_bytes, max_line_bytes) -> FileResult:
    if not _VALID_TZ.match(tz or ""):
        raise BadInput(f"--tz: expected a time zone name such as UTC or Europe/Berlin, got {tz!r}")
    with queries.settings(store.con, TimeZone=tz):      # tz checked against _VALID_TZ and ICU first
        return _load(store, path, label, plan, document, result, size, started, tz, on_bytes, max_line_bytes)


def _remove_partial(con, table: str, file_id: str) -> None:
    """Rows of a file that has no ledger row are leftovers of an interrupted chunked load."""
    queries.run(con, "ingest/remove_partial", {"file_id": file_id}, idents={"table": table})


def _load(store, path, label, plan, document, result, size, started, tz, on_bytes=None,
          max_line_bytes: int = limits.MAX_LINE_BYTES) -> FileResult:
    file_id = result.sha256
    _remove_partial(store.con, plan.log_type, file_id)
    try:
        return _load_rows(store, path, label, plan, document, result, size, started, tz, on_bytes, max_line_bytes)
    except BaseException:
        # a large file commits in chunks (see _Loader.flush): take its rows back out
        with store.transaction() as con:
            _remove_partial(con, plan.log_type, file_id)
            queries.run(con, "ingest/end_inflight", {"file_id": file_id})
        raise


def _load_rows(store, path, label, plan, document, result, size, started, tz, on_bytes=None,
               max_line_bytes: int = limits.MAX_LINE_BYTES) -> FileResult:
    file_id = result.sha256
    with store.transaction() as con, _Loader(con, plan, label=label, file_id=file_id, tz=tz,
                                             max_line_bytes=max_line_bytes) as loader:
        with _open(path) as fh:
            if document:
                result.note = "; ".join(filter(None, [plan.note, "JSON document (array or multi-line object): one record per element"]))
                loader.load_chunks(_json_document_chunks(fh, label, max_line_bytes))
            else:
                loader.load_chunks(_iter_chunks(fh, label, on_bytes=on_bytes, max_line_bytes=max_line_bytes))
        loader.finish()
        result.lines_read = loader.loaded + loader.rejected + loader.duplicate
        result.rows_loaded, result.rows_rejected = loader.loaded, loader.rejected
        result.hosts_derived = loader.hosts_derived
        result.rows_duplicate = loader.duplicate
        if loader.repaired:
            result.warnings.append(f"{label}: {loader.repaired} JSON lines had unescaped quotes and were repaired")
        if loader.drift_lines:
            result.drift = loader.drift_summary()
            result.warnings.append(
                f"{label}: {loader.drift_lines} lines carry fields other than the declared template "
                f"({plan.fmt}: {_short(result.drift)}); recorded in the ledger")
        if result.lines_read == 0:
            raise BadInput(f"{label}: no log lines; expected Zscaler {plan.log_type} records")
        # the file's event span, duplicates included: a resent file still covers its hours
        ledger.record(con, result, size=size, started_at=started, first_event=loader.first_event,
                      last_event=loader.last_event)
    return result


def _short(drift: dict) -> str:
    text = json.dumps(drift, sort_keys=True)
    return text if len(text) < 200 else text[:197] + "..."


def _other_lines_json(lines: list[str]) -> bool:
    """Whether a line after the first non-blank one is a whole JSON object (one record per line)."""
    rest = [ln for ln in lines if ln.strip()][1:]
    for ln in rest[:20]:
        try:
            if isinstance(json.loads(ln), dict):
                return True
        except ValueError:
            continue
    return False


def _first_line_unfinished(lines: list[str]) -> bool:
    first = next((ln for ln in lines if ln.strip()), "")
    try:
        json.loads(first)
        return False
    except RecursionError:
        return False
    except ValueError:
        return first.strip() in ("{", "[") or not first.rstrip().endswith("}")


def _json_document_chunks(fh, label: str, max_line_bytes: int):
    """A JSON array or pretty-printed JSON object(s), streamed: see lines.iter_json_document."""
    return iter_json_document(fh, label, BATCH_BYTES, max_line_bytes)


def _json_document_head(path: Path, label: str, max_line_bytes: int) -> list[str]:
    """The document's first elements (up to SNIFF_BYTES of them) as record lines, for sniffing;
    BadInput when not even the first element is valid JSON."""
    head: list[str] = []
    with _open(path) as fh:
        for _, body in iter_json_document(fh, label, SNIFF_BYTES, max_line_bytes):
            if isinstance(body, LongLine):
                if not head:
                    raise BadInput(f"{label}: line 1: {body.reason}; expected a JSON array of records or "
                                   "one JSON object per line")
                break
            head.extend(bytes(body).decode("utf-8").split("\n"))
            break
    return head


def _unwrap(how: str, lines: pa.Array) -> pa.Array:
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


@contextmanager
def _as_table(con, name: str, tab: pa.Table):
    """`tab` registered as `name` on `con` for the statements of the block."""
    con.register(name, tab)
    try:
        yield con
    finally:
        con.unregister(name)


def _as_batch(con, tab: pa.Table):
    """`tab` registered as _zs_batch, the table every batch statement reads, on `con`."""
    return _as_table(con, "_zs_batch", tab)


# ---------------------------------------------------------------------------------------------
class _Loader:
    """Runs the plan's batch SQL and inserts rows / rejects for one file inside its transaction."""

    def __init__(self, con, plan: Plan, *, label: str, file_id: str, tz: str,
                 max_line_bytes: int = limits.MAX_LINE_BYTES):
        self.con, self.plan, self.label, self.file_id, self.tz = con, plan, label, file_id, tz
        self.max_line_bytes = max_line_bytes
        # the batch SQL runs on cursors of its own: an error in it (one bad line) must not abort
        # the file's transaction on `con` (see _stage_isolated)
        self.stage_con = con.cursor()
        queries.set_option(self.stage_con, "TimeZone", tz)
        self._schema: pa.Schema | None = None
        layout = self._layout() if plan.fmt in ("kv", "cef", "leef") else None
        self.split_stages = zscaler_sql.split_exprs(plan, layout)
        self.sql, self.params = zscaler_sql.build(plan, layout)
        first_time = self._time_format(layout)
        if first_time is not None:
            self.sql, self.params = zscaler_sql.build(plan, layout, first_time)
        self.params = queries.bind(self.sql, self.params, strict=False)
        self.cols = list(COLUMNS[plan.log_type]) + DERIVED.get(plan.log_type, [])
        self.prefix = ledger.rid_prefix(file_id)
        self.loaded = self.rejected = self.duplicate = self.repaired = self.drift_lines = self.hosts_derived = 0
        self.first_event = self.last_event = None
        self.pending: list[pa.Table] = []
        self.pending_rows = self.pending_bytes = self.uncommitted = self.uncommitted_bytes = 0
        self.chunked = False
        self.drift_keys: dict[str, int] = {}
        self.drift_counts: dict[int, int] = {}
        self.key_sql, self.insert_sql, self.insert_unique_sql = _insert_sql(con, plan.log_type, self.cols)

    def __enter__(self) -> "_Loader":
        return self

    def __exit__(self, *exc) -> None:
        self.stage_con.close()

    def _time_format(self, layout) -> str | None:
        """The time format most of the first lines' event times have, when the batch SQL would
        try others before it (LEEF's devTime falls through seven naive formats to the zoned one)."""
        probe = zscaler_sql.time_probe(self.sql, self.plan)
        if probe is None or not self.plan.sample:
            return None
        tab = self._clean(pa.table({"line": pa.array(range(1, len(self.plan.sample) + 1), pa.int64()),
                                    "text": pa.array(self.plan.sample, pa.string())}))
        if tab is None:
            return None
        try:
            with _as_batch(self.stage_con, self._split(tab)) as con:
                values = [v for (v,) in con.execute(probe, queries.bind(probe, self.params, strict=False)).fetchall()
                          if v is not None]
        except Exception:                              # a hostile first line: no format learned
            return None
        if not values:
            return None
        chain = zscaler_sql.NAIVE_TIME_FORMATS + zscaler_sql.ZONED_TIME_FORMATS
        # the records' declared formats, then the chain's order; most feeds stop at the first
        for f in self.plan.time_formats + chain:
            hits = queries.scalar(self.con, "ingest/time_format_hits", {"format": f, "values": values})
            if hits * 10 >= len(values) * 9:
                return f if f != chain[0] or self.plan.time_formats else None
        return None

    def _layout(self) -> dict:
        """The template's key sequence (`sig`) and each key's position, from the sniffed lines."""
        from collections import Counter

        sample = self._presplit(pa.table({"text": pa.array(self.plan.sample, pa.string())}))
        sql = zscaler_sql.layout_sql(self.plan)
        with _as_batch(self.stage_con, sample) as con:
            rows = con.sql(sql, params=queries.bind(sql, {"split": self.plan.split_regex, "delim": self.plan.delim}, strict=False)).fetchall()
        sig = Counter(tuple(r[1]) for r in rows).most_common(1)[0][0]
        parts = next(r[0] for r in rows if tuple(r[1]) == sig)
        positions: dict[str, int] = {}
        for j, part in enumerate(parts, 1):
            if "=" in part:
                positions.setdefault(part.split("=", 1)[0].strip(), j)
        return {"sig": list(sig), "positions": positions}

    def load_table(self, tab: pa.Table) -> None:
        tab = self._clean(tab)
        if tab is not None:
            self._consume(self._checked(tab, self.stage_con))

    def load_chunks(self, chunks: Iterable[tuple[int, bytes | memoryview]]) -> None:
        """Batches of raw lines (see _iter_chunks). Two threads, each on its own DuckDB cursor,
        decode, split and run the batch SQL (DuckDB, Arrow and Polars release the GIL) while
        this thread inserts finished batches, in file order, into the file's transaction."""
        chunks = iter(chunks)
        head = [c for c in (next(chunks, None), next(chunks, None)) if c is not None]
        if len(head) < 2:                         # one batch: no threads needed
            for first, body in head:
                self._consume(self._prepare(first, body, self.stage_con))
            return
        local = threading.local()
        cursors = []

        def prepare(first: int, body) -> pa.Table | None:
            cur = getattr(local, "cur", None)
            if cur is None:
                cur = local.cur = self.con.cursor()
                cursors.append(cur)
                queries.set_option(cur, "TimeZone", self.tz)
            return self._prepare(first, body, cur)

        try:
            with ThreadPoolExecutor(max_workers=STAGE_THREADS, thread_name_prefix="zsaudit-stage") as pool:
                inflight: deque = deque()
                try:
                    for first, body in itertools.chain(head, chunks):
                        inflight.append(pool.submit(prepare, first, body))
                        while len(inflight) > STAGE_THREADS:
                            self._consume(inflight.popleft().result())
                    while inflight:
                        self._consume(inflight.popleft().result())
                finally:
                    for fut in inflight:
                        fut.cancel()
        finally:                                  # the pool has joined its threads here
            for cur in cursors:
                cur.close()

    def _prepare(self, first: int, body, con) -> pa.Table | tuple[int, LongLine] | None:
        """One batch of raw lines, cut, numbered and run through the batch SQL on `con`."""
        if isinstance(body, LongLine):
            return first, body
        tab = self._numbered(first, _decode_lines(body))
        return self._checked(tab, con) if tab is not None else None

    def _checked(self, tab: pa.Table, con) -> pa.Table:
        """The batch SQL's rows for `tab`, lines over a cap (limits.py) rejected with the cap."""
        capped = self._over_caps(tab)
        if capped is None:
            return self._stage_isolated(tab, con)
        keep, reasons = capped
        rejected = self._rejected_rows(tab.filter(pc.invert(keep)), reasons)
        staged = self._stage_isolated(tab.filter(keep), con) if pc.any(keep).as_py() else None
        return rejected if staged is None else pa.concat_tables([staged, rejected.cast(staged.schema)])

    def _over_caps(self, tab: pa.Table) -> tuple[pa.Array, pa.Array] | None:
        """(mask of lines within the caps, reasons of the others), or None when all are within.
        Counted by Polars (a few ms per 16 MiB batch; Arrow's count_substring is ten times slower)."""
        text = pl.from_arrow(tab["text"])
        capped = limits.over_caps(text, self.max_line_bytes, fields=self._field_count(text),
                                  json_lines=self.plan.fmt == "json")
        if capped is None:
            return None
        bad, reasons = capped
        return (~bad).to_arrow(), pa.array(reasons, pa.string())

    def _field_count(self, text: pl.Series) -> pl.Series:
        """Fields on each line, counted on its separators (an upper bound: values may hold them)."""
        fmt = self.plan.fmt
        if fmt == "json":       # not counted: a JSON line costs its length, not its keys (the
            return pl.zeros(len(text), pl.UInt32, eager=True)    # plan reads at most 256)
        if fmt in ("csv", "tsv", "kv") or (fmt == "leef" and not self.plan.split_regex):
            return text.str.count_matches(self.plan.delim or "\t", literal=True) + 1
        return text.str.count_matches("=", literal=True)

    def _stage_isolated(self, tab: pa.Table, con) -> pa.Table:
        """_stage, and when the statement fails on the batch, on each half in turn, down to the
        line that makes it fail: that line is rejected with the error, the others load."""
        try:
            return self._stage(tab, con)
        except Exception as exc:                 # DuckDB, Polars or Arrow refusing some line
            if tab.num_rows == 1:
                what = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                return self._rejected_rows(tab, pa.array([f"could not be read ({type(exc).__name__}: {what})"]))
            half = tab.num_rows // 2
            parts = [self._stage_isolated(tab.slice(0, half), con), self._stage_isolated(tab.slice(half), con)]
            return pa.concat_tables([p.cast(self.staged_schema()) for p in parts])

    def staged_schema(self) -> pa.Schema:
        """The columns the batch SQL gives (from a run over no lines)."""
        if self._schema is None:
            empty = pa.table({"line": pa.array([], pa.int64()), "text": pa.array([], pa.string())})
            if self.plan.fmt in ("cef", "leef") and self.plan.split_regex and not self.split_stages:
                empty = self._presplit(empty)
            self._schema = self._stage(empty, self.stage_con).schema
        return self._schema

    def _rejected_rows(self, tab: pa.Table, reasons: pa.Array) -> pa.Table:
        """Staged rows for lines refused before or by the batch SQL: `bad` says why."""
        schema, n = self.staged_schema(), tab.num_rows
        given = {"line": tab["line"], "text": tab["text"], "bad": reasons,
                 "drift": pa.array([False] * n), "nfields": pa.array([0] * n, pa.int32())}
        return pa.table([given[f.name].cast(f.type) if f.name in given else pa.nulls(n, f.type)
                         for f in schema], schema=schema)

    def _numbered(self, first: int, lines: pa.Array) -> pa.Table | None:
        if self.plan.unwrap:
            lines = _unwrap(self.plan.unwrap, lines)
        if self.plan.skip_header and first == 1:
            lines = lines[1:]
            first = 2
            while len(lines) and not lines[0].as_py().strip():
                lines, first = lines[1:], first + 1
        if not len(lines):
            return None
        numbers = pl.int_range(first, first + len(lines), dtype=pl.Int64, eager=True).to_arrow()
        return self._clean(pa.table({"line": numbers, "text": lines}))

    @staticmethod
    def _clean(tab: pa.Table) -> pa.Table | None:
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

    def _presplit(self, tab: pa.Table) -> pa.Table:
        """Add the column `pre` (parts marked for splitting) for space-delimited CEF / LEEF plans."""
        expr = zscaler_sql.presplit(self.plan, pl.col("text"))
        if expr is None:
            return tab
        pre = pl.from_arrow(tab.select(["text"])).select(expr.alias("pre")).to_arrow()["pre"]
        return tab.append_column("pre", pre)

    def _split(self, tab: pa.Table) -> pa.Table:
        """Add `ok` and the parts of template lines, split by Polars (zscaler_sql.split_exprs)."""
        if not self.split_stages:
            return tab
        df = pl.from_arrow(tab)
        for stage in self.split_stages:
            df = df.with_columns(stage)
        return df.drop(["_src", "_parts", "_n"], strict=False).to_arrow(compat_level=pl.CompatLevel.newest())

    def _stage(self, batch: pa.Table, con=None) -> pa.Table:
        with _as_batch(con if con is not None else self.con, self._split(batch)) as con:
            rel = con.sql(self.sql, params=self.params)
            return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()

    def _consume(self, staged: pa.Table | tuple[int, LongLine] | None) -> None:
        if staged is None:
            return
        con = self.con
        if isinstance(staged, tuple):                  # a line the reader cut at the cap
            line, long = staged
            ledger.insert_rejects(con, self.file_id, self.label, [line], [long.text()],
                                  [long.reason or limits.too_long(long.length, self.max_line_bytes)],
                                  lengths=[long.length], sha256s=[long.digest.hexdigest()])
            self.rejected += 1
            return
        if self.plan.fmt == "json":
            staged = self._repair_json(staged)
        bad_mask = pc.is_valid(staged["bad"])
        n_bad = pc.sum(bad_mask).as_py() or 0
        n_drift = pc.sum(staged["drift"]).as_py() or 0
        good = staged.filter(pc.invert(bad_mask)) if n_bad else staged
        rows = good.drop_columns(["text", "bad", "drift", "nfields"])
        self.pending.append(rows)
        self.pending_rows += rows.num_rows
        self.pending_bytes += rows.nbytes
        if self.pending_rows >= FLUSH_ROWS or self.pending_bytes >= FLUSH_BYTES:
            self.flush()
        if n_bad:
            bad = staged.filter(bad_mask).select(["line", "text", "bad"]).sort_by("line")
            ledger.insert_rejects(con, self.file_id, self.label, bad["line"], bad["text"], bad["bad"])
            self.uncommitted_bytes += n_bad * limits.REJECT_KEEP_CHARS
            self._maybe_commit()
        if n_drift:
            self._note_drift(n_drift, staged.filter(staged["drift"]).slice(0, 50))
        self.rejected += n_bad
        if "host_derived" in good.column_names:
            self.hosts_derived += pc.sum(good["host_derived"]).as_py() or 0

    def _note_drift(self, n: int, sample: pa.Table) -> None:
        self.drift_lines += n
        if self.plan.fmt in ("csv", "tsv"):
            for m in sample["nfields"].to_pylist():
                self.drift_counts[m] = self.drift_counts.get(m, 0) + 1
            return
        from .zscaler_sniff import _kv_pairs, _space_pairs, cef_extension, leef_attributes

        declared = set(self.plan.declared)
        for text in sample["text"].to_pylist():
            if self.plan.fmt == "kv":
                keys = [k for k, _ in _kv_pairs(text, "\t")]
            elif self.plan.fmt == "cef":
                parsed = cef_extension(text)
                keys = [k for k, _ in _space_pairs(parsed[1], {k.lower() for k in self.plan.keys})] if parsed else []
            else:
                parsed = leef_attributes(text)
                keys = [k for k, _ in _kv_pairs(parsed[1], parsed[2])] if parsed else []
            for k in set(keys) ^ declared:
                tag = ("+" if k not in declared else "-") + k
                self.drift_keys[tag] = self.drift_keys.get(tag, 0) + 1

    def drift_summary(self) -> dict:
        out: dict = {"lines": self.drift_lines, "declared_fields": len(self.plan.declared)}
        if self.drift_counts:
            out["found_field_counts"] = {str(k): v for k, v in sorted(self.drift_counts.items())}
        if self.drift_keys:
            out["missing"] = sorted(k[1:] for k in self.drift_keys if k.startswith("-"))
            out["unexpected"] = sorted(k[1:] for k in self.drift_keys if k.startswith("+"))
        return out

    def _repair_json(self, staged: pa.Table) -> pa.Table:
        """Swap staged rows of lines that are not valid JSON (nfields = -1: the batch SQL parses
        each line once) for the rows of their repaired form, or reject them."""
        mask = pc.fill_null(pc.equal(staged["nfields"], -1), False)
        if not pc.any(mask).as_py():
            return staged
        rows = staged.filter(mask).select(["line", "text"])
        broken = list(zip(rows["line"].to_pylist(), rows["text"].to_pylist()))
        fixed_lines, fixed_texts, bad_lines, bad_texts, reasons = [], [], [], [], []
        original = dict(broken)
        for line, text in broken:                      # the malformed minority, in Python
            start = text.find("{")
            fixed = repair_json_line(text[start:]) if start >= 0 else None
            if fixed is not None:
                fixed_lines.append(line)
                fixed_texts.append(fixed)
            else:
                bad_lines.append(line)
                bad_texts.append(text)
                reasons.append(_json_reason(text))
        kept = staged.filter(pc.invert(mask))
        repaired = None
        if fixed_lines:
            repaired = self._stage_isolated(pa.table({"line": pa.array(fixed_lines, pa.int64()),
                                                      "text": pa.array(fixed_texts, pa.string())}),
                                            self.stage_con)
            still = pc.fill_null(pc.equal(repaired["nfields"], -1), False)
            if pc.any(still).as_py():          # a repair that still does not parse: reject the line
                for line in repaired.filter(still)["line"].to_pylist():
                    bad_lines.append(line)
                    bad_texts.append(original[line])
                    reasons.append(_json_reason(original[line]))
                repaired = repaired.filter(pc.invert(still))
        self.repaired += repaired.num_rows if repaired is not None else 0
        if bad_lines:
            order = sorted(range(len(bad_lines)), key=bad_lines.__getitem__)
            ledger.insert_rejects(self.con, self.file_id, self.label, [bad_lines[i] for i in order],
                                  [bad_texts[i] for i in order], [reasons[i] for i in order])
            self.rejected += len(bad_lines)
        if repaired is None or repaired.num_rows == 0:
            return kept
        return pa.concat_tables([kept, repaired.cast(kept.schema)]).sort_by("line")

    def flush(self) -> None:
        """Append the pending rows in one INSERT, but no record whose natural key its table
        already holds (queries/ingest/insert_records.sql): those count as duplicates.

        DuckDB holds a transaction's appended rows in memory until commit, so a file larger than
        CHUNK_ROWS rows or CHUNK_BYTES bytes commits every CHUNK_ROWS rows or CHUNK_BYTES bytes. The ledger row is written last, in the final
        transaction: until then the file counts as not ingested, and a failure (or, after a
        crash, the next ingest of the file) deletes its rows again (_remove_partial)."""
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        self.pending, self.pending_rows, self.pending_bytes = [], 0, 0
        span = pc.min_max(table["event_time"]).as_py()
        with _as_table(self.con, "_zs_stage", table) as con:     # each key hashed once, in DuckDB
            keys = con.sql(self.key_sql).to_arrow_table()["record_key"]
        table = table.append_column("record_key", keys)
        sql = self.insert_sql if _may_repeat_key(table) else self.insert_unique_sql
        with _as_table(self.con, "_zs_stage", table) as con:
            inserted = con.execute(sql, [self.prefix, self.file_id, self.label,
                                         span["min"], span["max"]]).fetchone()[0]
        self.loaded += inserted
        self.duplicate += table.num_rows - inserted
        if span["min"] is not None:
            self.first_event = span["min"] if self.first_event is None else min(self.first_event, span["min"])
            self.last_event = span["max"] if self.last_event is None else max(self.last_event, span["max"])
        self.uncommitted += table.num_rows
        self.uncommitted_bytes += table.nbytes
        self._maybe_commit()

    def _maybe_commit(self) -> None:
        if self.uncommitted >= CHUNK_ROWS or self.uncommitted_bytes >= CHUNK_BYTES:
            if not self.chunked:        # committed rows without a ledger row: swept on open if killed
                ledger.begin_inflight(self.con, self.file_id, self.plan.log_type, self.label, ledger.now_utc())
            self.con.commit()        # a chunk of the file's store.transaction(), which goes on
            _test_kill_point("after_chunk_commit")
            self.con.begin()
            self.uncommitted = self.uncommitted_bytes = 0
            self.chunked = True

    def finish(self) -> None:
        self.flush()


def _may_repeat_key(table: pa.Table) -> bool:
    """Whether two rows of a staged batch may share (event_time, record_key): false only when
    they cannot (the two mixed into one number are all distinct; a collision just says maybe)."""
    micros = pc.cast(pc.cast(table["event_time"], pa.int64()), pa.uint64(), safe=False)
    mixed = pc.bit_wise_xor(table["record_key"], micros)
    return pc.count_distinct(mixed).as_py() < table.num_rows


def _insert_sql(con, table: str, cols: list[str]) -> tuple[str, str, str]:
    """(queries/ingest/record_keys.sql, insert_records.sql with the first line of each repeated
    key, insert_records.sql for a batch that repeats none) for `table`. The record key (see
    migrations/004_record_keys.sql) hashes each column cast to the table's own type, so a row
    hashes as the migration hashed it."""
    # in table order, as the migration's hash(*COLUMNS(...)) takes them
    types = queries.cursor(con, "ingest/table_columns", {"table": table}).fetchall()
    hashed = [(c, t) for c, t in types if c in {*cols, "extra"}]     # the record's own values
    content = "hash(" + ", ".join(f"CAST({c} AS {t})" for c, t in hashed) + ")"
    key = (f"CASE WHEN record_id IS NOT NULL THEN hash(CAST(record_id AS BIGINT)) ELSE {content} END"
           if "record_id" in cols else content)
    # identifiers from COLUMNS and the schema, never from input; values are bound
    insert = queries.load("ingest/insert_records")
    return (queries.load("ingest/record_keys").format(key=key),
            insert.format(table=table, columns=", ".join(cols), qualify=queries.load("ingest/first_of_each_key")),
            insert.format(table=table, columns=", ".join(cols), qualify=""))


def _test_kill_point(name: str) -> None:
    """Test hook (tests/test_orphans.py): ZSAUDIT_TEST_KILL_AT=<name> kills the process here, as
    a power cut or `kill -9` would."""
    if os.environ.get("ZSAUDIT_TEST_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _json_reason(text: str) -> str:
    start = text.find("{")
    if start < 0:
        return "not JSON: expected one JSON object per line"
    try:
        json.loads(text[start:])
    except RecursionError:
        return limits.too_deep()
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        col = getattr(exc, "colno", 0) + start
        if '"' in text[max(0, col - 3):col + 1]:
            return f"invalid JSON at column {col}: {msg} (unescaped quote inside a value; could not repair)"
        return f"invalid JSON at column {col}: {msg}"
    return "invalid JSON"
