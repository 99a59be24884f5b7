"""Zscaler ingest: ZIA web / firewall / DNS (NSS) and ZPA user activity / status (LSS) into DuckDB.

Per file: sha256 (same content twice is skipped), sniff format and log type from the first
lines (zscaler_sniff), then stream the file in line batches through one DuckDB statement per
batch that splits, normalises, types and judges every line. Lines that fail are kept in
`rejects` with their reason; JSON lines broken by unescaped quotes get one repair try in Python
first. The file's rows, rejects and ledger row commit together or not at all.

This module finds the files, sniffs each and owns its load (_FileLoad, in one
Store.chunked_transaction); each concern of the load has its own module:

  zscaler_batch       the file's BatchStatement: line batches -> staged rows, on two threads
                      (in turn with the writer when the ingest has one worker: one core)
  zscaler_sql         the batch SQL, generated from the plan
  zscaler_time_probe  the time format the first lines have, tried first
  zscaler_repair      JSON lines with unescaped quotes: repaired, or rejected with the reason
  zscaler_drift       lines off the declared template, counted for the ledger
  zscaler_write       staged rows into the table, each record once, in chunked commits
  zscaler_spool       a file staged ahead by a worker, held (in memory, or on disk past a
                      budget) until the writer's turn

A night of many files: one worker per core (ZSAUDIT_INGEST_WORKERS) hashes, sniffs and stages
whole files ahead into spools (in memory up to 64 MiB a worker, on disk past it); this thread
writes them in input order, each in its own transaction (_Ahead), so the result is exactly that
of one file after the other.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shutil
import sys
import tempfile
import threading
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, NoReturn

import pyarrow as pa
import pyarrow.compute as pc

from .. import queries
from ..errors import INTERNAL_ERROR, BadInput
from ..progress import QUIET, Progress
from . import ledger, limits, sources, zscaler_spool
from .ledger import FileResult
from .limits import LongLine
from .lines import ReadBuffers, iter_chunks, iter_json_document, open_input
from .nss_fields import LSS_TABLES, delimited_layout
from .zscaler_batch import STAGE_THREADS, BatchStatement, Staged, clean, decode_lines, stage_in_order
from .zscaler_drift import Drift
from .zscaler_drift import short as short_drift
from .zscaler_repair import repair_staged
from .zscaler_sniff import Plan, other_type_plan, sniff
from . import zscaler_write
from .zscaler_write import RecordWriter
# files staged at once (--workers, WORKERS_ENV, `[ingest] workers`, else the cores it may use)
from .workers import ENV as WORKERS_ENV, MAX_WORKERS, resolve as resolve_workers

MEMORY_LIMIT = os.environ.get("ZSAUDIT_INGEST_MEMORY", "512MB")   # DuckDB buffer pool while ingesting
# WAL between checkpoints while ingesting: DuckDB's default (16 MB) checkpointed at nearly every
# file's commit, each costing more as the store grows; one final CHECKPOINT follows the ingest.
# 64 MB, not 256: the same checkpoint work in smaller pieces, done by the writer while the
# workers stage, leaves less for the final one, which nothing overlaps (docs/benchmarks.md)
CHECKPOINT_THRESHOLD = os.environ.get("ZSAUDIT_INGEST_CHECKPOINT", "64MB")
SPOOL_MAX_BYTES = 256 << 20      # a larger file loads in place at its turn (no spool: its chunks commit as read)
BATCH_BYTES = 16 << 20           # decompressed bytes per batch: bounds memory per file
# DuckDB threads per statement while ingesting: the two stage threads already keep both cores busy
INGEST_THREADS = os.environ.get("ZSAUDIT_INGEST_THREADS", "1")
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
                 max_line_bytes: int = limits.MAX_LINE_BYTES, workers: int | None = None) -> list[FileResult]:
    """Ingest Zscaler log files, directories (recursive), .gz files, or '-' (stdin).

    A file that fails does not stop the others: its error is collected and raised at the end
    (IngestErrors; IngestInternalError, exit code 3, when zsaudit itself failed on it).
    With `workers` > 1 (default: workers_from_env()) as many files are read and parsed at once,
    ahead of this thread, which writes them one after the other in the order given (_Ahead).
    `workers` is the cores the ingest may keep busy: with 1 (a 1-cpu Spark task, one core) a
    file's batches are staged and written in turn, not on stage threads beside the writer."""
    workers = workers_from_env() if workers is None else max(1, min(int(workers), MAX_WORKERS))
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
    spool_dir = zscaler_spool.folder(store.path)
    zscaler_spool.sweep(spool_dir)                # spools of a killed ingest
    results: list[FileResult] = []
    errors: list[str] = []
    internal: Exception | None = None
    # DuckDB keeps a file's uncommitted rows in its buffer pool (80% of RAM by default); a bounded
    # pool makes it spill to the database file instead, so memory does not grow with the input.
    previous_threads = queries.setting(store.con, "threads")
    caps = {"memory_limit": MEMORY_LIMIT} if re.fullmatch(r"[0-9.]+ ?[KMGT]i?B", MEMORY_LIMIT or "") else {}
    if INGEST_THREADS.isdigit() and int(INGEST_THREADS) > 0:
        caps["threads"] = int(INGEST_THREADS)
    if re.fullmatch(r"[0-9.]+ ?[KMGT]i?B", CHECKPOINT_THRESHOLD or ""):
        caps["checkpoint_threshold"] = CHECKPOINT_THRESHOLD
    previous = queries.apply_settings(store.con, **caps)
    ahead = None
    try:
        sizes = [_size(item.path) for item in inputs]
        if workers > 1 and len(inputs) > 1:
            ahead = _Ahead(store, inputs, sizes, min(workers, len(inputs)), spool_dir,
                           dict(fmt=fmt, fields=fields, tz=tz, max_line_bytes=max_line_bytes))
        with progress.meter(sum(sizes), label="ingest zscaler") as advance:
            for i, (item, size) in enumerate(zip(inputs, sizes), 1):
                seen = [0]

                def on_bytes(n: int, seen=seen) -> None:
                    seen[0] += n
                    advance(n)

                try:
                    if ahead is not None and not ahead.in_place(i - 1):
                        result = ahead.write(i - 1)
                    else:
                        with sources.readable(item.path) as path:
                            result = ingest_file(store, path, label=item.label, fmt=fmt, fields=fields, tz=tz,
                                                 on_bytes=on_bytes, max_line_bytes=max_line_bytes,
                                                 stage_threads=workers)
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
        if ahead is not None:
            ahead.close()
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
                 max_line_bytes: int | None = None,
                 buffers: ReadBuffers | None = None) -> Iterator[tuple[int, pa.Array | bytes | LongLine]]:
    """iter_chunks (lines.py) with this ingester's batch size (BATCH_BYTES), each batch split into
    its lines as it is read (decode_lines: counted by Arrow's split, not by a count of newlines)."""
    return iter_chunks(fh, label, batch_bytes or BATCH_BYTES, on_bytes=on_bytes, max_line_bytes=max_line_bytes,
                       buffers=buffers, split=decode_lines)


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
                tz: str = "UTC", on_bytes=None, max_line_bytes: int = limits.MAX_LINE_BYTES,
                stage_threads: int = STAGE_THREADS) -> FileResult:
    """One file, all or nothing (see module docstring). `on_bytes(n)` is told, batch by batch,
    how many bytes of the file (compressed bytes for .gz) have been read; `stage_threads`: see
    zscaler_batch.stage_in_order (1: staged and written in turn). Each batch is read into a
    buffer of its own: kept buffers (ReadBuffers) made the one-thread path fault more, not less
    (glibc's main arena then keeps mapping its other large blocks afresh; docs/benchmarks.md)."""
    label = label or str(path)
    size, sha = _hash(path, label)
    if store.ledger_has(sha):
        return FileResult(path=label, sha256=sha, skipped=True)
    started = ledger.now_utc()
    result = FileResult(path=label, sha256=sha, source_kind="zscaler", format=fmt if fmt != "auto" else "")
    try:
        plan, document = _plan(path, label, fmt, fields, max_line_bytes, result)

        def feed(load: _FileLoad) -> None:
            with _open(path) as fh:
                load.load_chunks(_chunks(fh, label, document, max_line_bytes, on_bytes), stage_threads)

        return _load_file(store, label, plan, result, size, started, plan.time_zone or tz, feed, max_line_bytes)
    except BadInput as exc:
        _refuse(store, label, result, exc, size, started)


def _hash(path: Path, label: str) -> tuple[int, str]:
    """(size, sha256) of the file."""
    try:
        return path.stat().st_size, ledger.sha256_file(path)
    except OSError as exc:
        raise BadInput(f"{label}: cannot read ({exc.strerror or exc}); expected a readable file") from None


def _plan(path: Path, label: str, fmt: str, fields: str | None, max_line_bytes: int,
          result: FileResult) -> tuple[Plan, bool]:
    """(the file's plan, whether it is one JSON document) from its first lines; `result` told
    its log type, format and note. BadInput: no line of it can be a record."""
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
    plan.whole_sample = (not document and len(head) < SNIFF_BYTES
                         and len(plan.sample) == sum(1 for ln in head_lines if ln.strip()))
    if plan.note:                                  # a SIEM export: which one
        result.note = plan.note
    if document:
        result.note = "; ".join(filter(None, [plan.note, "JSON document (array or multi-line object): one record per element"]))
    return plan, document


def _chunks(fh, label: str, document: bool, max_line_bytes: int, on_bytes=None, buffers: ReadBuffers | None = None):
    """The file's line batches: lines.iter_chunks (read into `buffers` when given), or the
    elements of a JSON document."""
    if document:
        return _json_document_chunks(fh, label, max_line_bytes)
    return _iter_chunks(fh, label, on_bytes=on_bytes, max_line_bytes=max_line_bytes, buffers=buffers)


def _refuse(store, label: str, result: FileResult, exc: BadInput, size: int, started) -> NoReturn:
    """No line of the file can be a record: the ledger says so, and why (the pack lists it)."""
    reason = str(exc)
    result.refused = reason[len(label) + 2:] if reason.startswith(f"{label}: ") else reason
    result.lines_read = result.rows_loaded = result.rows_rejected = result.rows_duplicate = 0
    with store.transaction() as con:
        ledger.record(con, result, size=size, started_at=started)
    raise FileRefused(reason, result) from None


def _load_file(store, label, plan, result, size, started, tz, feed, max_line_bytes) -> FileResult:
    """Load the file's rows (`feed(load)` puts its batches through the _FileLoad)."""
    if not _VALID_TZ.match(tz or ""):
        raise BadInput(f"--tz: expected a time zone name such as UTC or Europe/Berlin, got {tz!r}")
    with queries.settings(store.con, TimeZone=tz):      # tz checked against _VALID_TZ and ICU first
        return _load(store, label, plan, result, size, started, tz, feed, max_line_bytes)


def _remove_partial(con, table: str, file_id: str) -> None:
    """Rows of a file that has no ledger row are leftovers of an interrupted chunked load: in
    its table, and in every ZPA LSS table for an LSS file (its records of other LSS log types)."""
    for name in sorted(LSS_TABLES) if table in LSS_TABLES else [table]:
        queries.run(con, "ingest/remove_partial", {"file_id": file_id}, idents={"table": name})


def _load(store, label, plan, result, size, started, tz, feed, max_line_bytes) -> FileResult:
    file_id = result.sha256
    _remove_partial(store.con, plan.log_type, file_id)
    try:
        return _load_rows(store, label, plan, result, size, started, tz, feed, max_line_bytes)
    except BaseException:
        # a large file commits in chunks (zscaler_write): take its rows back out
        with store.transaction() as con:
            _remove_partial(con, plan.log_type, file_id)
            queries.run(con, "ingest/end_inflight", {"file_id": file_id})
        raise


def _load_rows(store, label, plan, result, size, started, tz, feed, max_line_bytes) -> FileResult:
    with store.chunked_transaction() as tx, _FileLoad(tx, plan, label=label, file_id=result.sha256, tz=tz,
                                                      max_line_bytes=max_line_bytes) as load:
        feed(load)
        load.finish()
        load.tally(result)
        if result.lines_read == 0:
            raise BadInput(f"{label}: no log lines; expected Zscaler {plan.log_type} records")
        # the file's event span, duplicates included: a resent file still covers its hours
        ledger.record(tx.con, result, size=size, started_at=started, first_event=load.first_event,
                      last_event=load.last_event)
    return result


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


# ---------------------------------------------------------------------------------------------
def workers_from_env(environ=None) -> int:
    """ZSAUDIT_INGEST_WORKERS, else the cores this process may run on (ingest/workers.py; the
    CLI and the nightly job pass their --workers / `[ingest] workers` through workers.resolve)."""
    return resolve_workers(environ=environ)


@dataclass
class _Staged:
    """A file a worker has read, hashed, sniffed and staged into its spool, for the writer."""
    label: str
    result: FileResult | None = None     # skipped, or the ledger row so far
    size: int = 0
    started: object = None
    plan: Plan | None = None
    tz: str = "UTC"
    spool: zscaler_spool.Spool | None = None
    refused: BadInput | None = None      # no line of it can be a record (a ledger row says so)
    error: BaseException | None = None   # not ingested (no ledger row), raised at its turn


class _Stopped(Exception):
    """The ingest ended (an error or an interrupt in the writer): a worker stops its file."""


class _Ahead:
    """`workers` threads read, hash, sniff and stage whole files ahead of the writer (the caller's
    thread), each on its own cursor of the store and into a spool (zscaler_spool: in memory
    within the ingest's budget, on disk past it); the
    writer loads each file's spool in its own transaction in input order (write()), so the
    duplicate check, the ledger and the evidence ids are exactly those of one file after the
    other. At most 2 x workers files are ahead of the writer (spooled, or being staged)."""

    def __init__(self, store, inputs: list[_Input], sizes: list[int], workers: int, spool_dir: Path,
                 options: dict):
        self.store, self.inputs, self.sizes, self.spool_dir, self.options = store, inputs, sizes, spool_dir, options
        self.window = 2 * workers
        # staged batches wait for the writer in memory up to this, on disk past it (zscaler_spool)
        self.budget = zscaler_spool.Budget(zscaler_spool.MEMORY_PER_WORKER * workers)
        self.cursors: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(workers):         # each worker's cursor, and the buffers it reads into
            self.cursors.put((store.con.cursor(), ReadBuffers(1)))
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zsaudit-ingest")
        self.futures: dict[int, Future] = {}
        self.submitted = 0
        self.stop = threading.Event()

    def in_place(self, i: int) -> bool:
        """Whether file i loads in place at its turn (too large to spool: see SPOOL_MAX_BYTES)."""
        return self.sizes[i] > SPOOL_MAX_BYTES

    def _submit(self, upto: int) -> None:
        while self.submitted < min(len(self.inputs), upto):
            i = self.submitted
            if not self.in_place(i):
                self.futures[i] = self.pool.submit(self._stage, i)
            self.submitted += 1

    def write(self, i: int) -> FileResult:
        """File i's turn: its spool into the store, in its own transaction."""
        self._submit(i + self.window)
        staged = self.futures.pop(i).result()
        self._submit(i + 1 + self.window)
        try:
            return _write_staged(self.store, staged, self.options["max_line_bytes"])
        finally:
            if staged.spool is not None:
                staged.spool.discard()

    def _stage(self, i: int) -> _Staged:
        item = self.inputs[i]
        if self.stop.is_set():
            return _Staged(item.label, error=_Stopped())
        cur, buffers = own = self.cursors.get()
        try:
            with sources.readable(item.path) as path:
                return _stage_file(cur, path, item.label, self.spool_dir / f"{i:06d}.arrow", self.stop,
                                   budget=self.budget, buffers=buffers, **self.options)
        except BaseException as exc:           # raised at the file's turn, as the serial loop would
            return _Staged(item.label, error=exc)
        finally:
            self.cursors.put(own)

    def close(self) -> None:
        self.stop.set()
        for fut in self.futures.values():
            fut.cancel()
        self.pool.shutdown(wait=True)
        for fut in self.futures.values():
            if not fut.cancelled() and fut.result().spool is not None:
                fut.result().spool.discard()
        for _ in range(self.workers):
            self.cursors.get()[0].close()
        zscaler_spool.sweep(self.spool_dir)


def _stage_file(cur, path: Path, label: str, spool_path: Path, stop: threading.Event, *, fmt: str,
                fields: str | None, tz: str, max_line_bytes: int,
                budget: zscaler_spool.Budget | None = None, buffers: ReadBuffers | None = None) -> _Staged:
    """A worker's part of ingest_file: hash, sniff, and every batch through the batch SQL (and
    the JSON repair) on the worker's cursor `cur`, into a spool (in memory within `budget`).
    `buffers`: the worker's read buffers (one is enough: a batch is staged, its lines copied
    out, before the next is read)."""
    size, sha = _hash(path, label)
    if queries.scalar(cur, "store/ledger_has", {"sha256": sha}):
        return _Staged(label, FileResult(path=label, sha256=sha, skipped=True))
    started = ledger.now_utc()
    result = FileResult(path=label, sha256=sha, source_kind="zscaler", format=fmt if fmt != "auto" else "")
    staged = _Staged(label, result, size, started)
    try:
        staged.plan, document = _plan(path, label, fmt, fields, max_line_bytes, result)
        staged.tz = staged.plan.time_zone or tz
        if not _VALID_TZ.match(staged.tz or ""):
            raise BadInput(f"--tz: expected a time zone name such as UTC or Europe/Berlin, got {staged.tz!r}")
        queries.set_option(cur, "TimeZone", staged.tz)
        statement = BatchStatement(cur, staged.plan, max_line_bytes)
        key_sql = zscaler_write.record_key_sql(cur, staged.plan.log_type)
        spool = schema = None

        def new_spool():
            # asked after the first batch ran: its run tells the schema (BatchStatement.staged_schema)
            s = statement.staged_schema()
            return zscaler_spool.Spool(spool_path, s.append(pa.field("record_key", pa.uint64())), budget), s

        try:
            with _open(path) as fh:
                for first, body in _chunks(fh, label, document, max_line_bytes, buffers=buffers):
                    if stop.is_set():
                        raise _Stopped()
                    prepared = statement.prepare(first, body, cur)
                    if spool is None:
                        spool, schema = new_spool()
                    batch = _stage_ahead(statement, prepared, spool)
                    if isinstance(batch, pa.Table):    # the keys of the rows the writer will insert
                        good = pc.and_(pc.is_null(batch["bad"]), pc.is_null(batch["hand_to"])).combine_chunks()
                        if batch.schema != schema:        # one cast, where a batch differs
                            batch = batch.cast(schema)
                        batch = zscaler_write.with_record_keys(cur, key_sql, batch, good)
                    spool.add(batch)
            if spool is None:
                spool, schema = new_spool()
            spool.close()
        except BaseException:
            if spool is not None:
                spool.discard()
            raise
        staged.spool = spool
    except BadInput as exc:
        staged.refused = exc
    return staged


def _stage_ahead(statement: BatchStatement, staged: Staged, spool: zscaler_spool.Spool) -> Staged:
    """A staged batch of a JSON file with its broken lines repaired, or staged as rejected rows
    with the reason (what _FileLoad.consume does at the writer's turn otherwise)."""
    if not isinstance(staged, pa.Table) or statement.plan.fmt != "json":
        return staged
    staged, broken, repaired = repair_staged(staged, statement.stage_isolated)
    spool.repaired += repaired
    if not broken:
        return staged
    lines, texts, reasons = (list(c) for c in zip(*broken))
    rejected = statement.rejected_rows(pa.table({"line": pa.array(lines, pa.int64()),
                                                 "text": pa.array(texts, pa.string())}),
                                       pa.array(reasons, pa.string()))
    return pa.concat_tables([staged.cast(rejected.schema), rejected])


def _write_staged(store, staged: _Staged, max_line_bytes: int) -> FileResult:
    """The writer's part of ingest_file for a file a worker staged: its rows, rejects and ledger
    row from its spool, in one (chunked) transaction; or its refusal, or its error."""
    if staged.error is not None:
        raise staged.error
    result = staged.result
    if result.skipped:
        return result
    if staged.refused is not None:
        _refuse(store, staged.label, result, staged.refused, staged.size, staged.started)
    if store.ledger_has(result.sha256):            # the same content earlier in this ingest
        return FileResult(path=staged.label, sha256=result.sha256, skipped=True)
    try:
        return _load_file(store, staged.label, staged.plan, result, staged.size, staged.started, staged.tz,
                          lambda load: load.load_spool(staged.spool), max_line_bytes)
    except BadInput as exc:
        _refuse(store, staged.label, result, exc, staged.size, staged.started)


# ---------------------------------------------------------------------------------------------
class _FileLoad:
    """One file's lines through its BatchStatement (zscaler_batch) into its RecordWriter
    (zscaler_write), inside the file's transaction `tx`: broken JSON lines repaired or rejected
    (zscaler_repair), drift counted (zscaler_drift)."""

    def __init__(self, tx, plan: Plan, *, label: str, file_id: str, tz: str,
                 max_line_bytes: int = limits.MAX_LINE_BYTES, root: "_FileLoad | None" = None):
        self.tx, self.file_id = tx, file_id
        self.plan, self.label, self.tz, self.max_line_bytes = plan, label, tz, max_line_bytes
        # a file mixing ZPA LSS log types: the file's load (root) hands each record of another
        # loaded type to a load of that type's table (`others`); they share its transaction and
        # chunk commits, and the ledger row counts them all
        self.others: dict[str, _FileLoad] = {}
        # the batch SQL runs on cursors of its own: an error in it (one bad line) must not abort
        # the file's transaction (see BatchStatement.stage_isolated)
        self.stage_con = tx.con.cursor()
        queries.set_option(self.stage_con, "TimeZone", tz)
        self._statement: BatchStatement | None = None
        self._hand_on_types = root is None
        self.writer = RecordWriter(tx, plan.log_type, file_id=file_id, label=label,
                                   root=root.writer if root is not None else None)
        self.drift = Drift(plan)
        self.repaired = self.hosts_derived = 0

    @property
    def statement(self) -> BatchStatement:
        """The plan's BatchStatement on this load's cursor, compiled when first needed (a file
        staged ahead by a worker needs it only for records of another LSS type)."""
        if self._statement is None:
            self._statement = BatchStatement(self.stage_con, self.plan, self.max_line_bytes,
                                             hand_on=self._hand_on_types)
        return self._statement

    def __enter__(self) -> "_FileLoad":
        return self

    def __exit__(self, *exc) -> None:
        for other in self.others.values():
            other.__exit__(*exc)
        self.stage_con.close()

    def loads(self) -> list["_FileLoad"]:
        """This file's loads: its own and those of the other LSS log types it holds."""
        return [self, *self.others.values()]

    def _hand_on(self, rows) -> None:
        """Load records the batch SQL found to be of another ZPA LSS log type (`hand_to`) into
        that type's table, each type by a load of its own planned from its first records."""
        for table in sorted(pc.unique(rows["hand_to"]).to_pylist()):
            part = rows.filter(pc.equal(rows["hand_to"], table)).select(["line", "text"])
            load = self.others.get(table)
            if load is None:
                plan = other_type_plan(self.label, self.plan, table, part["text"].slice(0, 100).to_pylist())
                load = self.others[table] = _FileLoad(self.tx, plan, label=self.label, file_id=self.file_id,
                                                      tz=self.tz, max_line_bytes=self.max_line_bytes, root=self)
            tab = clean(part)
            if tab is not None:
                load.consume(load.statement.checked(tab, load.stage_con))

    @property
    def first_event(self):
        return min((ld.writer.first_event for ld in self.loads() if ld.writer.first_event is not None), default=None)

    @property
    def last_event(self):
        return max((ld.writer.last_event for ld in self.loads() if ld.writer.last_event is not None), default=None)

    def load_chunks(self, chunks: Iterable[tuple[int, bytes | memoryview | LongLine]],
                    threads: int = STAGE_THREADS) -> None:
        """Batches of raw lines (lines.iter_chunks), staged on `threads` threads (1: in turn with
        the writer), consumed in file order."""
        stage_in_order(self.statement, chunks, self.consume, self.tz, threads)

    def load_spool(self, spool: zscaler_spool.Spool) -> None:
        """A file's batches a worker staged ahead (its JSON lines repaired already)."""
        self.repaired += spool.repaired
        for staged in spool.staged():
            self.consume(staged, repaired=True)

    def consume(self, staged: Staged, repaired: bool = False) -> None:
        """One staged batch: its good rows to the writer, its bad lines rejected with the reason
        (`repaired`: its broken JSON lines were repaired or rejected already, see stage_ahead)."""
        if staged is None:
            return
        if isinstance(staged, tuple):                  # a line the reader cut at the cap
            line, long = staged
            self.writer.reject([line], [long.text()],
                               [long.reason or limits.too_long(long.length, self.max_line_bytes)],
                               lengths=[long.length], sha256s=[long.digest.hexdigest()])
            return
        if self.plan.fmt == "json" and not repaired:
            staged, broken, n_repaired = repair_staged(staged, self.statement.stage_isolated)
            self.repaired += n_repaired
            if broken:
                self.writer.reject(*(list(c) for c in zip(*broken)))
        if staged.num_rows and pc.any(pc.is_valid(staged["hand_to"])).as_py():
            handed = pc.is_valid(staged["hand_to"])
            self._hand_on(staged.filter(handed))
            staged = staged.filter(pc.invert(handed))
        bad_mask = pc.is_valid(staged["bad"])
        n_bad = pc.sum(bad_mask).as_py() or 0
        n_drift = pc.sum(staged["drift"]).as_py() or 0
        good = staged.filter(pc.invert(bad_mask)) if n_bad else staged
        self.writer.add(good.drop_columns(["text", "bad", "drift", "nfields", "hand_to"]))
        if n_bad:
            bad = staged.filter(bad_mask).select(["line", "text", "bad"]).sort_by("line")
            self.writer.reject(bad["line"], bad["text"], bad["bad"])
        if n_drift:
            self.drift.note(staged.filter(staged["drift"]))
        if "host_derived" in good.column_names:
            self.hosts_derived += pc.sum(good["host_derived"]).as_py() or 0

    def finish(self) -> None:
        for load in self.loads():
            load.writer.flush()

    def tally(self, result: FileResult) -> None:
        """The file's counts, repairs and drift into its ledger row (`result`)."""
        writers = [ld.writer for ld in self.loads()]
        result.rows_loaded = sum(w.loaded for w in writers)
        result.rows_rejected = sum(w.rejected for w in writers)
        result.rows_duplicate = sum(w.duplicate for w in writers)
        result.lines_read = result.rows_loaded + result.rows_rejected + result.rows_duplicate
        result.hosts_derived = self.hosts_derived
        if self.others:                 # one file of several LSS log types: what went where
            result.note = "; ".join(filter(None, [result.note, "ZPA LSS log types, each in its own table: " + ", ".join(
                f"{w.log_type} {w.loaded + w.duplicate}" for w in writers)]))
        if self.repaired:
            result.warnings.append(f"{self.label}: {self.repaired} JSON lines had unescaped quotes and were repaired")
        if self.drift.lines:
            result.drift = self.drift.summary()
            result.warnings.append(
                f"{self.label}: {self.drift.lines} lines carry fields other than the declared template "
                f"({self.plan.fmt}: {short_drift(result.drift)}); recorded in the ledger")
