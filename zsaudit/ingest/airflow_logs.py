"""Airflow task-log files (2.x text, 3.x JSON lines) into the store, many files per DuckDB pass.

Per batch of files: Python reads each small file once (bytes -> sha256 -> text), pyarrow splits
all texts into lines in one call, and the SQL in queries/airflow/ parses, assigns and loads every
line of the batch column-wise. A file larger than SMALL_FILE_BYTES is never held: it is hashed
in blocks, then read in batches of whole lines (lines.iter_chunks) straight into a DuckDB TEMP
table, which spills to disk under MEMORY_LIMIT, so memory does not grow with the file.

Every line is capped like a Zscaler line (limits.py: --max-line-bytes, JSON depth): a line over
a cap is one reject with its reason, its first characters, length and sha256. A batch is one
transaction; if it fails, its files are loaded again one per transaction, and a file whose
parsing fails is halved down to the lines that make it fail, each rejected with the error, so
one bad line never costs the file; a file that still fails leaves no partial rows (docs/airflow.md).
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

import polars as pl

from .. import queries
from ..progress import QUIET, Progress
from . import ledger, limits
from .ledger import FileResult, now_utc, rid_prefix
from .limits import LongLine
from .lines import iter_chunks
from .workers import resolve as resolve_workers

BATCH_FILES = 3000
SMALL_FILE_BYTES = 8 << 20       # a larger task log is streamed in CHUNK_BYTES batches of lines
CHUNK_BYTES = 8 << 20
BATCH_BYTES = 64 * 1024 * 1024   # a batch of larger files is read and loaded in parts of this size
# DuckDB's bound while the logs load: the workers' batches, the commits and the final CHECKPOINT
# (the peak: it rewrites the PRIMARY KEY indexes) spill past it instead of growing. 100k attempts:
# peak RSS 924 MB at 512 MB, 838 at 448, 802 at 384, same wall time (docs/benchmarks.md).
MEMORY_LIMIT = "384MB"
# WAL size that triggers a checkpoint at commit while the batches load (DuckDB's default: 16 MB,
# i.e. every second 3000-file batch). Fewer, larger checkpoints cost less in all (100k attempts:
# ~22 instead of ~28 CPU-s of commits and checkpoints, docs/benchmarks.md).
CHECKPOINT_THRESHOLD = "64MB"
# Worker threads (each parses a batch, then commits it in its turn): the Zscaler ingest's setting
# (ingest/workers.py: --workers, ZSAUDIT_INGEST_WORKERS, `[ingest] workers`, else one per core).
# Memory: MEMORY_LIMIT for DuckDB, shared by all of them (it spills past it), plus per worker one
# batch's texts in Python until its commit (BATCH_BYTES, and one file of at most SMALL_FILE_BYTES).
# DuckDB threads per statement during the ingest: the workers already keep the cores busy;
# DuckDB's own worker threads on top only add synchronisation (measured: -15% CPU with 1,
# docs/benchmarks.md).
DUCKDB_THREADS = 1
SOURCE_KIND = "airflow_tasklog"
_LINE_SQL = ["airflow/parse_lines", "airflow/attempt_lines", "airflow/log_attempts"]
# The inserts run on the batch's cursor before its turn, into TEMP staging copies of the store's
# tables; the lines themselves (the bulk) go from _af_la straight into the store at commit
# (insert_log_rows). Each costs its plan whatever its rows (a tiny batch: ~2-4 ms, the egress
# scan ~16), so one whose input is empty is left out (_run_line_sql): no reject, connection or
# file without attempt lines in the batch's counts, or no line that may give an egress hint
# (checked in Arrow for a batch of at most FEW_LINES lines held in memory: _may_hold_hints).
FEW_LINES = 4096
# What a line must hold to give insert_egress_hints.sql a hint (tests/test_ingest_airflow_skips.py
# checks the SQL still says so): a URL's "://", urllib3's "host='", or a bare host:port as its
# `bare` CTE finds one, led by one more character, "-": a 2.x record's message (what that CTE
# reads) may follow its header's "-" with no space; "{taskinstance.py:12}" never leads a match.
# A line with ESC or CR (cleaned before the scan reads it) must pass the SQL's own prefilter only.
EGRESS_MARKS = ("://", "host='")
EGRESS_BARE = (r"(?:^|[\s'" + '"' + r"(=,\[@-])((?:(?:\d{1,3}\.){3}\d{1,3}|localhost|"
               r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}):\d{1,5})\b")
EGRESS_PREFILTER = ("://", "port=", r"(?:[A-Za-z0-9]\.[A-Za-z0-9-]+|localhost):\d")


@dataclass(slots=True)
class LogFile:
    """A task-log file found on disk and the identity its path gave."""

    path: Path
    ident: dict
    template: str
    display: str = ""

    def __post_init__(self):
        if not self.display:
            self.display = str(self.path)


@dataclass(slots=True)
class _Prepared:
    src: LogFile
    sha256: str = ""
    file_id: str = ""
    log_key: str = ""
    text: str | None = None
    streamed: bool = False          # too large to hold: read in chunks straight into DuckDB
    fmt: str = "airflow2_text"
    ends_nl: bool = True
    size: int = 0
    error: str = ""
    result: FileResult | None = None
    replaced: bool = False
    warnings: list[str] = field(default_factory=list)


def log_key(ident: dict, display: str) -> str:
    """The attempt a path names (so a grown copy of the same log is recognised)."""
    run = ident.get("run_id") or ident.get("ts")
    if ident.get("dag_id") and ident.get("task_id") and run and ident.get("try_number") is not None:
        return "|".join([ident["dag_id"], run, ident["task_id"], str(ident.get("map_index", -1)),
                         str(ident["try_number"])])
    return "path|" + display


def _prepare(src: LogFile) -> _Prepared:
    """Hash the file and tell its format; a small file's text is kept for the batch, a large one
    is only hashed here (in blocks) and read again, in chunks, when the batch is parsed."""
    p = _Prepared(src=src)
    p.log_key = log_key(src.ident, src.display)
    try:
        with src.path.open("rb") as fh:
            data = fh.read(SMALL_FILE_BYTES + 1)
            if len(data) > SMALL_FILE_BYTES:
                _hash_rest(p, fh, data)
                return p
    except OSError as exc:
        p.error = f"{src.display}: cannot read ({exc.strerror or exc})"
        return p
    p.size = len(data)
    p.sha256 = hashlib.sha256(data).hexdigest()
    p.file_id = _file_id(p)
    # undecodable bytes stay visible as \xNN instead of being lost
    text = data.decode("utf-8", errors="backslashreplace")
    p.ends_nl = text.endswith("\n")
    if p.ends_nl:
        text = text[:-1]
    p.text = text if data else None
    p.fmt = _fmt(text[:4096])
    return p


def _file_id(p: _Prepared) -> str:
    return hashlib.sha256(f"{SOURCE_KIND}|{p.log_key}|{p.sha256}".encode()).hexdigest()


def _fmt(head: str) -> str:
    return "airflow3_json" if head.lstrip()[:1] == "{" else "airflow2_text"


def _hash_rest(p: _Prepared, fh, head: bytes) -> None:
    """A large file: sha256 over all of it in CHUNK_BYTES blocks, its format from its first bytes."""
    digest = hashlib.sha256(head)
    size, last = len(head), head[-1:]
    while block := fh.read(CHUNK_BYTES):
        digest.update(block)
        size, last = size + len(block), block[-1:]
    p.streamed, p.size, p.ends_nl = True, size, last == b"\n"
    p.sha256 = digest.hexdigest()
    p.file_id = _file_id(p)
    p.fmt = _fmt(head[:4096].decode("utf-8", errors="replace"))


def ingest_log_files(store, files: list[LogFile], *, tz: str = "UTC", progress: Progress = QUIET,
                     batch_files: int | None = None, max_line_bytes: int = limits.MAX_LINE_BYTES,
                     workers: int | None = None) -> list[FileResult]:
    """Load task-log files: `workers` threads (default: workers.resolve()) each parse a batch,
    then commit it, in batch order."""
    workers = resolve_workers(workers)
    batch_files = batch_files or BATCH_FILES
    con = store.con
    # (no airflow/macros here: the lines are parsed and committed on the workers' cursors, each
    # with its own (_cursor); the store's connection only sets and restores the settings)
    files, superseded = _one_file_per_attempt(files)
    batches = [files[i:i + batch_files] for i in range(0, len(files), batch_files)]
    results: list[FileResult] = list(superseded)
    done = 0
    # DuckDB keeps pages it wrote in its buffer pool up to memory_limit (80% of RAM by default);
    # a bounded pool keeps the ingest's RSS flat however large the tree (DuckDB evicts/spills).
    previous = queries.apply_settings(con, memory_limit=MEMORY_LIMIT, threads=DUCKDB_THREADS,
                                      checkpoint_threshold=CHECKPOINT_THRESHOLD)
    pipeline = _Pipeline(store, max_line_bytes)
    try:
        # Each worker thread, on its own cursor of the store's instance: read, hash and parse a
        # batch into TEMP staging tables (in parallel with the other worker), then wait for the
        # batch's turn and load it into the store in one transaction, straight from the staging
        # tables (no copy of the rows outside DuckDB: all of it stays under one memory_limit).
        # Commits are serialised in batch order, so each transaction sees every earlier batch.
        # DuckDB and file I/O release the GIL, so the workers fill the cores.
        with ThreadPoolExecutor(max_workers=min(workers, max(1, len(batches)))) as pool:
            futures = [pool.submit(_load_batch, pipeline, i, b, tz) for i, b in enumerate(batches)]
            try:
                for i, fut in enumerate(futures):
                    results.extend(fut.result())
                    done += len(batches[i])
                    if len(batches) > 1:
                        progress.log(f"airflow task logs: {done}/{len(files)} files")
            except BaseException:
                for fut in futures:
                    fut.cancel()
                pipeline.abort()
                raise
        pipeline.close()
        # write the batches' data to the file while the memory bound still holds (a checkpoint at
        # close under the default limit would otherwise balloon); the workers are done, so the
        # checkpoint gets DuckDB's own threads back
        queries.set_option(con, "threads", previous["threads"])
        queries.run(con, "store/checkpoint")
    finally:
        pipeline.close()
        queries.apply_settings(con, **previous)
    return results


class _Pipeline:
    """Per ingest: the workers' cursors (one per thread, with its TEMP staging tables) and the
    turn that makes batches commit in order."""

    def __init__(self, store, max_line_bytes: int = limits.MAX_LINE_BYTES):
        self.store = store
        self.max_line_bytes = max_line_bytes
        self.local = threading.local()
        self.cursors: list[duckdb.DuckDBPyConnection] = []
        self.lock = threading.Lock()
        self.turn = 0
        self.turn_changed = threading.Condition()
        self.aborted = False

    def wait_turn(self, index: int) -> None:
        with self.turn_changed:
            while self.turn != index and not self.aborted:
                self.turn_changed.wait()
            if self.aborted:
                raise RuntimeError("airflow ingest aborted")

    def next_turn(self, index: int) -> None:
        with self.turn_changed:
            self.turn = max(self.turn, index + 1)
            self.turn_changed.notify_all()

    def abort(self) -> None:
        with self.turn_changed:
            self.aborted = True
            self.turn_changed.notify_all()

    def close(self) -> None:
        with self.lock:
            cursors, self.cursors = self.cursors, []
        for cur in cursors:
            cur.close()


def _load_batch(pipeline: _Pipeline, index: int, batch: list[LogFile], tz: str) -> list[FileResult]:
    """Worker: parse a batch (in parallel with the other worker), then commit it in its turn.
    A batch of unusually large files is read in parts of at most BATCH_BYTES, each parsed and
    committed in turn (the later parts while this worker holds the turn)."""
    results: list[FileResult] = []
    try:
        rest = batch
        while rest:
            staged, rest = _stage(pipeline, rest, tz)
            pipeline.wait_turn(index)
            results.extend(_commit_or_split(pipeline, staged, tz))
        return results
    finally:
        pipeline.next_turn(index)


def _one_file_per_attempt(files: list[LogFile]) -> tuple[list[LogFile], list[FileResult]]:
    """Two files naming the same attempt in one run (e.g. two copies of a tree): keep the larger
    (a grown copy), so no two batches ever carry the same attempt's log."""
    by_key: dict[str, LogFile] = {}
    dropped: list[FileResult] = []
    for f in files:
        key = log_key(f.ident, f.display)
        other = by_key.get(key)
        if other is None:
            by_key[key] = f
            continue
        size = f.path.stat().st_size if f.path.exists() else -1
        other_size = other.path.stat().st_size if other.path.exists() else -1
        loser, winner = (other, f) if size >= other_size else (f, other)
        by_key[key] = winner
        dropped.append(FileResult(path=loser.display, sha256="", source_kind=SOURCE_KIND, skipped=True,
                                  note=f"superseded by {winner.display} (same attempt, larger log)"))
    if not dropped:
        return files, []
    keep = set(id(f) for f in by_key.values())
    return [f for f in files if id(f) in keep], dropped


@dataclass
class _Staged:
    prepared: list[_Prepared]
    todo: list[_Prepared] = field(default_factory=list)
    counts: dict[int, tuple] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)
    error: Exception | None = None


def _stage(pipeline: _Pipeline, batch: list[LogFile], tz: str) -> tuple[_Staged, list[LogFile]]:
    """Worker: read + hash the files (up to BATCH_BYTES of them; the rest is returned), drop those
    already in the ledger, parse the rest."""
    prepared, size = [], 0
    for f in batch:
        if prepared and size >= BATCH_BYTES:
            break
        prepared.append(_prepare(f))
        size += prepared[-1].size
    staged = _Staged(prepared=prepared)
    try:
        for p in staged.prepared:
            if p.error:
                p.result = FileResult(path=p.src.display, sha256="", source_kind=SOURCE_KIND, note=p.error,
                                      warnings=[p.error])
        candidates = [p for p in staged.prepared if p.result is None]
        known = _known_file_ids(pipeline, [p.file_id for p in candidates])
        for p in candidates:
            if p.file_id in known:
                p.result = FileResult(path=p.src.display, sha256=p.sha256, source_kind=SOURCE_KIND,
                                      format=p.fmt, skipped=True)
            else:
                staged.todo.append(p)
        if staged.todo:
            _parse(pipeline, staged, tz)
    except Exception as exc:  # noqa: BLE001 - the commit step splits the batch and reports per file
        staged.error = exc
    return staged, batch[len(prepared):]


def _known_file_ids(pipeline: _Pipeline, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    cur = _cursor(pipeline)
    with queries.registered(cur, {"_af_ids": pa.table({"file_id": pa.array(ids, pa.string())})}):
        return {r[0] for r in queries.cursor(cur, "airflow/known_files").fetchall()}


def _cursor(pipeline: _Pipeline) -> duckdb.DuckDBPyConnection:
    """This thread's own connection to the store's DuckDB instance (made once per thread; the
    store's connection refuses concurrent calls, so cursors are made under a lock)."""
    cur = getattr(pipeline.local, "scratch", None)
    if cur is None:
        with pipeline.lock:
            cur = pipeline.store.con.cursor()
            pipeline.cursors.append(cur)
        pipeline.local.scratch = cur
        pipeline.local.catalog = queries.scalar(cur, "store/catalog_name")
        queries.run(cur, "airflow/macros")
    return cur


def _scratch(pipeline: _Pipeline) -> duckdb.DuckDBPyConnection:
    """This thread's cursor with fresh TEMP staging copies of the tables a batch fills: the
    batch is parsed there without touching the store's tables, and all of it stays under the one
    instance's memory_limit (it spills, never balloons)."""
    scratch = _cursor(pipeline)
    # (re)created per batch: the commit drops them, so that inside its transaction unqualified
    # names resolve to the store's tables again
    queries.run(scratch, "airflow/stage_tables", idents={"catalog": pipeline.local.catalog})
    return scratch


def _parse(pipeline: _Pipeline, staged: _Staged, tz: str, isolate: bool = False) -> None:
    """Parse a batch on this thread's cursor into TEMP staging copies of the store's tables.
    The small files' lines go to DuckDB as one Arrow table; a streamed (large) file's lines, and
    every line when `isolate` (a file alone after its batch failed), go into a TEMP table first."""
    todo = staged.todo
    files = _files_table(todo)
    lines, lengths = _lines_table(todo, pipeline.max_line_bytes)
    for p in todo:
        p.text = None               # the lines table holds them now
    scratch = _scratch(pipeline)
    in_table = isolate or any(p.streamed for p in todo)
    hints = in_table or _may_hold_hints(lines)
    try:
        if in_table:
            queries.run(scratch, "airflow/stage_lines", tables={"_af_lines_arrow": lines})
            del lines
            for i, p in enumerate(todo):
                if p.streamed:
                    lengths[i] = _stream_lines(scratch, p, i, pipeline.max_line_bytes)
            queries.run(scratch, "airflow/lines_all")
        else:
            scratch.register("_af_lines", lines)
        staged.lengths = lengths
        queries.run(scratch, "airflow/stage_files",
                    tables={"_af_files_arrow": files.append_column("n_lines", pa.array(lengths, pa.int64()))})
        if isolate:
            _reject_failing_lines(scratch, tz, len(todo))
        staged.counts = _run_line_sql(scratch, tz, len(todo), hints)
        queries.drop(scratch, ["_af_att"])
    finally:
        if in_table:
            queries.run(scratch, "airflow/drop_lines")
        else:
            scratch.unregister("_af_lines")


def _run_line_sql(scratch, tz: str, n_files: int, hints: bool = True) -> dict[int, tuple]:
    """Parse the staged lines into _af_la / _af_att and the staging tables; returns per file
    (by index) its lines kept, lines rejected, first and last event time. `hints`: whether a line
    may give an egress hint (False: the scan is left out)."""
    for name in _LINE_SQL:
        queries.run(scratch, name, {"tz": tz})
        if name == "airflow/attempt_lines":
            queries.drop(scratch, ["_af_parsed"])    # _af_la has every column of it
    counts = {r[0]: r[1:] for r in queries.cursor(scratch, "airflow/log_file_counts").fetchall()}
    # each left out only where it would insert nothing (FEW_LINES' comment): a file without an
    # attempt line is what log_empty_files looks for; the counts' WHERE is the inserts' own
    if any(counts.get(i, (0,))[0] == 0 for i in range(n_files)):
        queries.run(scratch, "airflow/log_empty_files")
    if any(c[1] for c in counts.values()):
        queries.run(scratch, "airflow/insert_log_rejects")
    if any(c[4] for c in counts.values()):
        queries.run(scratch, "airflow/insert_log_connections")
    if hints:
        queries.run(scratch, "airflow/insert_egress_hints")
    queries.run(scratch, "airflow/insert_log_sources")
    return {i: c[:4] for i, c in counts.items()}


def _may_hold_hints(lines: pa.Table) -> bool:
    """Whether a line of the batch may give insert_egress_hints.sql a hint (EGRESS_MARKS,
    EGRESS_BARE; a line with ESC or CR: EGRESS_PREFILTER); a batch of more than FEW_LINES lines
    is not checked (it almost always has one)."""
    if lines.num_rows > FEW_LINES:
        return True
    raw = lines["raw"]
    found = [pc.match_substring(raw, mark) for mark in EGRESS_MARKS]
    found.append(pc.match_substring_regex(raw, EGRESS_BARE))
    if any(pc.any(f).as_py() for f in found):
        return True
    cleaned = pc.or_(pc.match_substring(raw, "\x1b"), pc.match_substring(raw, "\r"))
    if not pc.any(cleaned).as_py():
        return False
    literal, port, pattern = EGRESS_PREFILTER
    pre = pc.or_(pc.or_(pc.match_substring(raw, literal), pc.match_substring(raw, port)),
                 pc.match_substring_regex(raw, pattern))
    return bool(pc.any(pc.and_(cleaned, pre)).as_py())


def _reject_failing_lines(scratch, tz: str, n_files: int) -> None:
    """A file alone whose lines make the parsing SQL fail: halve its lines (a view over a range of
    _af_lines_all) down to each line that fails on its own, and mark it a reject with the error;
    the file's other lines then load. A failure no single line explains is left to the caller."""
    try:
        _run_line_sql(scratch, tz, n_files)
        return
    except Exception:  # noqa: BLE001 - find the lines
        pass
    lo, hi = queries.one(scratch, "airflow/line_range")
    bad: list[tuple[int, str]] = []

    def probe(first: int, last: int) -> None:
        queries.run(scratch, "airflow/probe_lines", {"first": first, "last": last})
        try:
            _run_line_sql(scratch, tz, n_files)
        except Exception as exc:  # noqa: BLE001
            if first == last:
                what = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                bad.append((first, f"could not be read ({type(exc).__name__}: {what})"))
            else:
                mid = (first + last) // 2
                probe(first, mid)
                probe(mid + 1, last)

    if lo is not None:
        probe(lo, hi)
    queries.run(scratch, "airflow/lines_all")
    if bad:
        queries.insert_many(scratch, "airflow/reject_line", [(r, n) for n, r in bad])
    queries.run(scratch, "airflow/clear_staged")     # what the probes staged is discarded


def _stream_lines(scratch, p: _Prepared, file_idx: int, max_line_bytes: int) -> int:
    """A large file's lines into _af_lines_all, CHUNK_BYTES at a time; returns its line count.
    A line over max_line_bytes is read past (its first bytes, length and sha256 kept)."""
    n_lines = 0
    digest = hashlib.sha256()
    with p.src.path.open("rb") as fh:
        for first, body in iter_chunks(_Hashing(fh, digest), p.src.display, CHUNK_BYTES,
                                       max_line_bytes=max_line_bytes, split=_split_lines):
            if isinstance(body, LongLine):
                chunk = pa.table({"file_idx": pa.array([file_idx], pa.int32()),
                                  "line_no": pa.array([first], pa.int64()),
                                  "raw": pa.array([body.text()], pa.large_string()),
                                  "cap": pa.array([limits.too_long(body.length, max_line_bytes)], pa.string()),
                                  "raw_bytes": pa.array([body.length], pa.int64()),
                                  "raw_sha256": pa.array([body.digest.hexdigest()], pa.string())})
                count = 1
            else:
                raw = body
                count = len(raw)
                chunk = _with_caps(pa.table({
                    "file_idx": pl.repeat(file_idx, count, dtype=pl.Int32, eager=True).to_arrow(),
                    "line_no": pl.int_range(first, first + count, dtype=pl.Int64, eager=True).to_arrow(),
                    "raw": raw}), max_line_bytes)
            queries.run(scratch, "airflow/append_lines", tables={"_af_chunk": chunk})
            n_lines = first + count - 1
    if digest.hexdigest() != p.sha256:   # it grew (a running task) between the hash and this read
        p.sha256 = digest.hexdigest()
        p.file_id = _file_id(p)
    return n_lines


def _split_lines(body) -> pa.Array:
    """A batch's lines (iter_chunks' `split`): decoded (bad UTF-8 kept as backslash escapes) and
    split by Arrow, which releases the GIL, and counted by their number, not by bytes.count."""
    text = bytes(body).decode("utf-8", errors="backslashreplace")
    return pc.list_flatten(pc.split_pattern(pa.array([text], pa.large_string()), "\n"))


class _Hashing:
    """A binary file whose readinto also feeds a sha256 (so the bytes parsed are the bytes hashed)."""

    def __init__(self, fh, digest):
        self.fh, self.digest = fh, digest

    def readinto(self, view) -> int:
        n = self.fh.readinto(view)
        if n:
            self.digest.update(view[:n])
        return n


def _commit_or_split(pipeline: _Pipeline, staged: _Staged, tz: str, alone: bool = False) -> list[FileResult]:
    """Commit a staged batch in one transaction; if that fails, each file in its own, with its
    failing lines (if lines are what fails) rejected one by one (_parse with isolate)."""
    if staged.todo:
        try:
            if staged.error is not None:
                raise staged.error
            _commit(pipeline, staged)
        except Exception as exc:  # noqa: BLE001 - retry one file per transaction
            if alone:
                p = staged.todo[0]
                msg = f"{p.src.display}: not loaded, no rows kept ({type(exc).__name__}: {exc})"
                p.result = FileResult(path=p.src.display, sha256=p.sha256, source_kind=SOURCE_KIND,
                                      format=p.fmt, note=msg, warnings=[msg])
            else:
                for p in staged.todo:
                    fresh = _prepare(p.src)     # read again: the batch's texts were released
                    single = _Staged(prepared=[fresh], todo=[fresh] if not fresh.error else [])
                    if fresh.error:
                        fresh.result = FileResult(path=fresh.src.display, sha256="", source_kind=SOURCE_KIND,
                                                  note=fresh.error, warnings=[fresh.error])
                    else:
                        try:
                            _parse(pipeline, single, tz, isolate=True)
                        except Exception as err:  # noqa: BLE001
                            single.error = err
                        _commit_or_split(pipeline, single, tz, alone=True)
                    p.result = fresh.result
    return [p.result for p in staged.prepared]


def _commit(pipeline: _Pipeline, staged: _Staged) -> None:
    con = _scratch_of_this_thread(pipeline)
    todo = staged.todo
    started = now_utc()
    with pipeline.store.transaction(con):       # on this worker's cursor, where the batch is staged
        # from here on, names mean the store's tables
        queries.run(con, "airflow/publish_staged", idents={"catalog": pipeline.local.catalog})
        queries.run(con, "airflow/insert_log_rows")      # _af_la x _af_files -> airflow_log_lines
        queries.drop(con, ["_af_la"])
        queries.run(con, "airflow/insert_log_files")
        # a grown (or otherwise changed) copy of an attempt's log replaces the earlier one
        old = queries.cursor(con, "airflow/replaced_log_files").fetchall()
        if old:
            replace_files(con, [r[0] for r in old])
            for _, idx in old:
                todo[idx].replaced = True
        merge_touched(con)
        results, ledger_rows = [], []
        for i, p in enumerate(todo):
            loaded, rejected, first, last = staged.counts.get(i, (0, 0, None, None))
            r = FileResult(path=p.src.display, sha256=p.sha256, source_kind=SOURCE_KIND, format=p.fmt,
                           lines_read=int(staged.lengths[i]), rows_loaded=int(loaded),
                           rows_rejected=int(rejected), replaced=p.replaced)
            if r.lines_read != r.rows_loaded + r.rows_rejected:  # never expected; keep the books honest
                r.warnings.append(f"{p.src.display}: {r.lines_read} lines read but "
                                  f"{r.rows_loaded} kept + {r.rows_rejected} rejected")
            results.append(r)
            ledger_rows.append((p.file_id or r.sha256, p.size, r, first, last))
        ledger.write(con, ledger_rows, started)
    for p, r in zip(todo, results):
        p.result = r


def _scratch_of_this_thread(pipeline: _Pipeline) -> duckdb.DuckDBPyConnection:
    scratch = getattr(pipeline.local, "scratch", None)
    if scratch is None:  # pragma: no cover - a batch is always parsed on the thread that commits it
        raise RuntimeError("no staging cursor on this thread")
    return scratch


def _files_table(todo: list[_Prepared]) -> pa.Table:
    def col(name, typ):
        return pa.array([p.src.ident.get(name) for p in todo], typ)

    return pa.table({
        "file_idx": pa.array(range(len(todo)), pa.int32()),
        "log_file": pa.array([p.src.display for p in todo], pa.string()),
        "file_id": pa.array([p.file_id for p in todo], pa.string()),
        "sha256": pa.array([p.sha256 for p in todo], pa.string()),
        "rid_prefix": pa.array([rid_prefix(p.sha256) for p in todo], pa.string()),
        "log_key": pa.array([p.log_key for p in todo], pa.string()),
        "fmt": pa.array([p.fmt for p in todo], pa.string()),
        "ends_with_newline": pa.array([p.ends_nl for p in todo], pa.bool_()),
        "template": pa.array([p.src.template for p in todo], pa.string()),
        "p_dag_id": col("dag_id", pa.string()),
        "p_run_id": col("run_id", pa.string()),
        "p_task_id": col("task_id", pa.string()),
        "p_map_index": col("map_index", pa.int32()),
        "p_try_number": col("try_number", pa.int32()),
        "p_ts": col("ts", pa.string()),
        "keep": pa.array([True] * len(todo), pa.bool_()),
    })


def _lines_table(todo: list[_Prepared], max_line_bytes: int) -> tuple[pa.Table, list[int]]:
    """All lines of all files held in memory: (file_idx, line_no, raw, cap...), split by Arrow in
    one call, the caps checked by Polars (_with_caps)."""
    texts = pa.array([p.text for p in todo], pa.large_string())
    lists = pc.split_pattern(texts, "\n")
    lengths = pc.fill_null(pc.list_value_length(lists), 0)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    starts = pc.subtract(pc.cumulative_sum(lengths), lengths)          # lines before each file
    position = pc.cumulative_sum(pc.if_else(pc.is_valid(flat), 1, 1))  # 1..n over the batch
    line_no = pc.subtract(position, pc.take(starts, parents))
    table = pa.table({
        "file_idx": pc.cast(parents, pa.int32()),
        "line_no": pc.cast(line_no, pa.int64()),
        "raw": flat,
    })
    return _with_caps(table, max_line_bytes), lengths.to_pylist()


def _with_caps(table: pa.Table, max_line_bytes: int) -> pa.Table:
    """The lines with cap / raw_bytes / raw_sha256: NULL for a line within the caps (limits.py);
    a line over one keeps its first characters as raw, its length, sha256 and the cap's reason."""
    n = table.num_rows
    capped = limits.over_caps(pl.from_arrow(table["raw"]), max_line_bytes, json_lines=True,
                              json_starts=("{",))     # a 2.x text line of brackets is not JSON if n else None
    if capped is None:
        return table.append_column("cap", pa.nulls(n, pa.string())) \
                    .append_column("raw_bytes", pa.nulls(n, pa.int64())) \
                    .append_column("raw_sha256", pa.nulls(n, pa.string()))
    bad, reasons = capped
    rows = bad.arg_true().to_list()
    raw = table["raw"]
    whole = [raw[i].as_py() for i in rows]
    cap = [None] * n
    size: list = [None] * n
    digest: list = [None] * n
    for i, text, reason in zip(rows, whole, reasons):
        data = text.encode("utf-8", errors="surrogatepass")
        cap[i], size[i], digest[i] = reason, len(data), hashlib.sha256(data).hexdigest()
    mask = bad.to_arrow()
    kept = pc.if_else(mask, pc.utf8_slice_codeunits(raw, 0, limits.REJECT_KEEP_CHARS), raw)
    table = table.set_column(table.column_names.index("raw"), "raw", kept)
    return table.append_column("cap", pa.array(cap, pa.string())) \
                .append_column("raw_bytes", pa.array(size, pa.int64())) \
                .append_column("raw_sha256", pa.array(digest, pa.string()))


def replace_files(con, old_ids: list[str]) -> None:
    """Delete every row an earlier version of a file left (inside the caller's transaction)."""
    queries.run(con, "airflow/replace_files", tables={"_af_old_arrow": pa.table({"file_id": pa.array(old_ids, pa.string())})})


def merge_touched(con) -> None:
    """Rebuild task_attempts rows of the attempts in _af_touched from all their sources."""
    queries.run(con, "airflow/merge_attempts")
