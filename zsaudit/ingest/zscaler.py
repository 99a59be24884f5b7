"""Zscaler ingest: ZIA web / firewall / DNS (NSS) and ZPA user activity / status (LSS) into DuckDB.

Per file: sha256 (same content twice is skipped), sniff format and log type from the first
lines (zscaler_sniff), then stream the file in line batches through one DuckDB statement per
batch that splits, normalises, types and judges every line. Lines that fail are kept in
`rejects` with their reason; JSON lines broken by unescaped quotes get one repair try in Python
first. The file's rows, rejects and ledger row commit together or not at all.

This module finds the files, sniffs each and owns its load (_FileLoad, in one
Store.chunked_transaction); each concern of the load has its own module:

  zscaler_batch       the file's BatchStatement: line batches -> staged rows, on two threads
  zscaler_sql         the batch SQL, generated from the plan
  zscaler_time_probe  the time format the first lines have, tried first
  zscaler_repair      JSON lines with unescaped quotes: repaired, or rejected with the reason
  zscaler_drift       lines off the declared template, counted for the ledger
  zscaler_write       staged rows into the table, each record once, in chunked commits
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

import pyarrow.compute as pc

from .. import queries
from ..errors import INTERNAL_ERROR, BadInput
from ..progress import QUIET, Progress
from . import ledger, limits, sources
from .ledger import FileResult
from .limits import LongLine
from .lines import iter_chunks, iter_json_document, open_input
from .nss_fields import LSS_TABLES, delimited_layout
from .zscaler_batch import BatchStatement, Staged, clean, stage_in_order
from .zscaler_drift import Drift
from .zscaler_drift import short as short_drift
from .zscaler_repair import repair_staged
from .zscaler_sniff import Plan, other_type_plan, sniff
from .zscaler_write import RecordWriter

MEMORY_LIMIT = os.environ.get("ZSAUDIT_INGEST_MEMORY", "512MB")   # DuckDB buffer pool while ingesting
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
    """Rows of a file that has no ledger row are leftovers of an interrupted chunked load: in
    its table, and in every ZPA LSS table for an LSS file (its records of other LSS log types)."""
    for name in sorted(LSS_TABLES) if table in LSS_TABLES else [table]:
        queries.run(con, "ingest/remove_partial", {"file_id": file_id}, idents={"table": name})


def _load(store, path, label, plan, document, result, size, started, tz, on_bytes=None,
          max_line_bytes: int = limits.MAX_LINE_BYTES) -> FileResult:
    file_id = result.sha256
    _remove_partial(store.con, plan.log_type, file_id)
    try:
        return _load_rows(store, path, label, plan, document, result, size, started, tz, on_bytes, max_line_bytes)
    except BaseException:
        # a large file commits in chunks (zscaler_write): take its rows back out
        with store.transaction() as con:
            _remove_partial(con, plan.log_type, file_id)
            queries.run(con, "ingest/end_inflight", {"file_id": file_id})
        raise


def _load_rows(store, path, label, plan, document, result, size, started, tz, on_bytes=None,
               max_line_bytes: int = limits.MAX_LINE_BYTES) -> FileResult:
    with store.chunked_transaction() as tx, _FileLoad(tx, plan, label=label, file_id=result.sha256, tz=tz,
                                                      max_line_bytes=max_line_bytes) as load:
        with _open(path) as fh:
            if document:
                result.note = "; ".join(filter(None, [plan.note, "JSON document (array or multi-line object): one record per element"]))
                load.load_chunks(_json_document_chunks(fh, label, max_line_bytes))
            else:
                load.load_chunks(_iter_chunks(fh, label, on_bytes=on_bytes, max_line_bytes=max_line_bytes))
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
        self.statement = BatchStatement(self.stage_con, plan, max_line_bytes, hand_on=root is None)
        self.writer = RecordWriter(tx, plan.log_type, file_id=file_id, label=label,
                                   root=root.writer if root is not None else None)
        self.drift = Drift(plan)
        self.repaired = self.hosts_derived = 0

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

    def load_chunks(self, chunks: Iterable[tuple[int, bytes | memoryview | LongLine]]) -> None:
        """Batches of raw lines (lines.iter_chunks), staged on threads, consumed in file order."""
        stage_in_order(self.statement, chunks, self.consume, self.tz)

    def consume(self, staged: Staged) -> None:
        """One staged batch: its good rows to the writer, its bad lines rejected with the reason."""
        if staged is None:
            return
        if isinstance(staged, tuple):                  # a line the reader cut at the cap
            line, long = staged
            self.writer.reject([line], [long.text()],
                               [long.reason or limits.too_long(long.length, self.max_line_bytes)],
                               lengths=[long.length], sha256s=[long.digest.hexdigest()])
            return
        if self.plan.fmt == "json":
            staged, broken, repaired = repair_staged(staged, self.statement.stage_isolated)
            self.repaired += repaired
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
