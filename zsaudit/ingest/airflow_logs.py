"""Airflow task-log files (2.x text, 3.x JSON lines) into the store, many files per DuckDB pass.

Per batch of files: Python reads each file once (bytes -> sha256 -> text), pyarrow splits all
texts into lines in one call, and the SQL in queries/airflow/ parses, assigns and loads every
line of the batch column-wise. A batch is one transaction; if it fails, its files are loaded
again one per transaction, so a failing file never leaves partial rows (docs/airflow.md).
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .. import queries
from ..progress import QUIET, Progress
from .ledger import FileResult, now_utc, rid_prefix

BATCH_FILES = 2000
MEMORY_LIMIT = "512MB"
SOURCE_KIND = "airflow_tasklog"
_LINE_SQL = ["airflow/parse_lines", "airflow/attempt_lines", "airflow/log_attempts"]
_INSERT_SQL = ["airflow/insert_log_rows", "airflow/insert_log_rejects", "airflow/insert_log_connections",
               "airflow/insert_egress_hints", "airflow/insert_log_sources"]


@dataclass
class LogFile:
    """A task-log file found on disk and the identity its path gave."""

    path: Path
    ident: dict
    template: str
    display: str = ""

    def __post_init__(self):
        if not self.display:
            self.display = str(self.path)


@dataclass
class _Prepared:
    src: LogFile
    sha256: str = ""
    file_id: str = ""
    log_key: str = ""
    text: str | None = None
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


def _prepare_all(batch: list[LogFile]) -> list[_Prepared]:
    return [_prepare(f) for f in batch]


def _prepare(src: LogFile) -> _Prepared:
    p = _Prepared(src=src)
    try:
        data = src.path.read_bytes()
    except OSError as exc:
        p.error = f"{src.display}: cannot read ({exc.strerror or exc})"
        return p
    p.size = len(data)
    p.sha256 = hashlib.sha256(data).hexdigest()
    p.log_key = log_key(src.ident, src.display)
    p.file_id = hashlib.sha256(f"{SOURCE_KIND}|{p.log_key}|{p.sha256}".encode()).hexdigest()
    # undecodable bytes stay visible as \xNN instead of being lost
    text = data.decode("utf-8", errors="backslashreplace")
    p.ends_nl = text.endswith("\n")
    if p.ends_nl:
        text = text[:-1]
    p.text = text if data else None
    head = text.lstrip()[:1]
    p.fmt = "airflow3_json" if head == "{" else "airflow2_text"
    return p


def ingest_log_files(store, files: list[LogFile], *, tz: str = "UTC", progress: Progress = QUIET,
                     batch_files: int = BATCH_FILES) -> list[FileResult]:
    results: list[FileResult] = []
    con = store.con
    con.execute(queries.load("airflow/macros"))
    batches = [files[i:i + batch_files] for i in range(0, len(files), batch_files)]
    done = 0
    # DuckDB keeps pages it wrote in its buffer pool up to memory_limit (80% of RAM by default);
    # a bounded pool keeps the ingest's RSS flat however large the tree (DuckDB evicts/spills).
    previous = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    try:
        # read and hash the next batch (I/O and hashlib release the GIL) while DuckDB loads this one
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(_prepare_all, batches[0]) if batches else None
            for i, batch in enumerate(batches):
                prepared = pending.result()
                pending = pool.submit(_prepare_all, batches[i + 1]) if i + 1 < len(batches) else None
                results.extend(_load_prepared(store, prepared, tz))
                done += len(batch)
                if len(batches) > 1:
                    progress.log(f"airflow task logs: {done}/{len(files)} files")
    finally:
        con.execute(f"SET memory_limit = '{_safe_setting(previous)}'")
    return results


def _safe_setting(value: str) -> str:
    """A memory_limit value read back from DuckDB (e.g. '18.6 GiB'), safe to put in SET."""
    return "".join(ch for ch in str(value) if ch.isalnum() or ch in " ._") or "80%"


def _load_prepared(store, prepared: list[_Prepared], tz: str) -> list[FileResult]:
    con = store.con
    out: list[FileResult] = []
    todo: list[_Prepared] = []
    seen_keys: dict[str, _Prepared] = {}
    for p in prepared:
        if p.error:
            p.result = FileResult(path=p.src.display, sha256="", source_kind=SOURCE_KIND, note=p.error,
                                  warnings=[p.error])
            continue
        other = seen_keys.get(p.log_key)
        if other is not None:
            # two copies of one attempt's log in this run: keep the longer (the grown) one
            loser, winner = (other, p) if p.size >= other.size else (p, other)
            loser.result = FileResult(path=loser.src.display, sha256=loser.sha256, source_kind=SOURCE_KIND,
                                      format=loser.fmt, skipped=True,
                                      note=f"superseded by {winner.src.display} (same attempt, longer log)")
            seen_keys[p.log_key] = winner
        else:
            seen_keys[p.log_key] = p
    candidates = [p for p in seen_keys.values() if p.result is None]
    if candidates:
        ids = pa.table({"file_id": pa.array([p.file_id for p in candidates], pa.string())})
        con.register("_af_ids", ids)
        try:
            known = {r[0] for r in con.execute(
                "SELECT file_id FROM ingest_ledger WHERE file_id IN (SELECT file_id FROM _af_ids)").fetchall()}
        finally:
            con.unregister("_af_ids")
        for p in candidates:
            if p.file_id in known:
                p.result = FileResult(path=p.src.display, sha256=p.sha256, source_kind=SOURCE_KIND,
                                      format=p.fmt, skipped=True)
            else:
                todo.append(p)
    if todo:
        try:
            _load_batch(store, todo, tz)
        except Exception as exc:  # noqa: BLE001 - retry one file per transaction
            if len(todo) == 1:
                p = todo[0]
                msg = f"{p.src.display}: not loaded, no rows kept ({type(exc).__name__}: {exc})"
                p.result = FileResult(path=p.src.display, sha256=p.sha256, source_kind=SOURCE_KIND,
                                      format=p.fmt, note=msg, warnings=[msg])
            else:
                for p in todo:
                    _load_prepared(store, [p], tz)
    for p in prepared:
        out.append(p.result)
    return out


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


def _lines_table(todo: list[_Prepared]) -> tuple[pa.Table, list[int]]:
    """All lines of all files: (file_idx, line_no, raw), split by Arrow in one call."""
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
    return table, lengths.to_pylist()


def _load_batch(store, todo: list[_Prepared], tz: str) -> None:
    con = store.con
    files = _files_table(todo)
    lines, lengths = _lines_table(todo)
    files = files.append_column("n_lines", pa.array(lengths))
    started = now_utc()
    con.register("_af_files_arrow", files)
    con.register("_af_lines", lines)
    try:
        with store.transaction():
            con.execute("CREATE OR REPLACE TEMP TABLE _af_files AS SELECT * FROM _af_files_arrow")
            for name in _LINE_SQL:
                con.execute(queries.load(name), {"tz": tz} if name == "airflow/parse_lines" else None)
            con.execute(queries.load("airflow/log_empty_files"))
            # a grown (or otherwise changed) copy of an attempt's log replaces the earlier one
            old = con.execute(
                "SELECT o.file_id, f.file_idx FROM airflow_log_files o JOIN _af_files f "
                "ON o.log_key = f.log_key AND o.file_id <> f.file_id").fetchall()
            con.execute("CREATE OR REPLACE TEMP TABLE _af_touched AS "
                        "SELECT DISTINCT attempt_id FROM _af_att")
            if old:
                replace_files(con, [r[0] for r in old])
                for _, idx in old:
                    todo[idx].replaced = True
            for name in _INSERT_SQL:
                con.execute(queries.load(name))
            con.execute("INSERT INTO airflow_log_files SELECT file_id, log_key, log_file, sha256, fmt, n_lines "
                        "FROM _af_files")
            merge_touched(con)
            counts = con.execute(queries.load("airflow/log_file_counts")).fetchall()
            by_idx = {r[0]: r[1:] for r in counts}
            results = []
            ledger_rows = []
            for i, p in enumerate(todo):
                loaded, rejected, first, last = by_idx.get(i, (0, 0, None, None))
                r = FileResult(path=p.src.display, sha256=p.sha256, source_kind=SOURCE_KIND, format=p.fmt,
                               lines_read=int(lengths[i]), rows_loaded=int(loaded), rows_rejected=int(rejected),
                               replaced=p.replaced)
                if r.lines_read != r.rows_loaded + r.rows_rejected:  # never expected; keep the books honest
                    r.warnings.append(f"{p.src.display}: {r.lines_read} lines read but "
                                      f"{r.rows_loaded} kept + {r.rows_rejected} rejected")
                results.append(r)
                ledger_rows.append((p, r, first, last))
            write_ledger(con, ledger_rows, started)
    finally:
        con.unregister("_af_files_arrow")
        con.unregister("_af_lines")
    for p, r in zip(todo, results):
        p.result = r


def replace_files(con, old_ids: list[str]) -> None:
    """Delete every row an earlier version of a file left (inside the caller's transaction)."""
    con.register("_af_old_arrow", pa.table({"file_id": pa.array(old_ids, pa.string())}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _af_old AS SELECT DISTINCT file_id FROM _af_old_arrow")
    finally:
        con.unregister("_af_old_arrow")
    con.execute("INSERT INTO _af_touched SELECT DISTINCT attempt_id FROM task_attempt_sources "
                "WHERE file_id IN (SELECT file_id FROM _af_old)")
    for table in ("airflow_log_lines", "task_connections", "task_egress_hints", "task_attempt_sources",
                  "rejects", "ingest_ledger", "airflow_log_files", "airflow_ti_events"):
        con.execute(f"DELETE FROM {table} WHERE file_id IN (SELECT file_id FROM _af_old)")  # noqa: S608 (fixed names)


def merge_touched(con) -> None:
    """Rebuild task_attempts rows of the attempts in _af_touched from all their sources."""
    con.execute("DELETE FROM task_attempts WHERE attempt_id IN (SELECT attempt_id FROM _af_touched)")
    con.execute(queries.load("airflow/merge_attempts"))


def write_ledger(con, rows, started) -> None:
    """Bulk ledger rows: rows = [(prepared-or-None, FileResult, first_event, last_event), ...]."""
    if not rows:
        return
    finished = now_utc()
    table = pa.table({
        "file_id": pa.array([getattr(p, "file_id", None) or r.sha256 for p, r, _, _ in rows], pa.string()),
        "path": pa.array([r.path for _, r, _, _ in rows], pa.string()),
        "size": pa.array([getattr(p, "size", None) for p, _, _, _ in rows], pa.int64()),
        "sha256": pa.array([r.sha256 for _, r, _, _ in rows], pa.string()),
        "source_kind": pa.array([r.source_kind for _, r, _, _ in rows], pa.string()),
        "format": pa.array([r.format for _, r, _, _ in rows], pa.string()),
        "lines_read": pa.array([r.lines_read for _, r, _, _ in rows], pa.int64()),
        "rows_loaded": pa.array([r.rows_loaded for _, r, _, _ in rows], pa.int64()),
        "rows_rejected": pa.array([r.rows_rejected for _, r, _, _ in rows], pa.int64()),
        "first_event": pa.array([f for _, _, f, _ in rows], pa.timestamp("us", tz="UTC")),
        "last_event": pa.array([last for _, _, _, last in rows], pa.timestamp("us", tz="UTC")),
        "status": pa.array(["replaced" if r.replaced else "loaded" for _, r, _, _ in rows], pa.string()),
        "field_drift": pa.array([json.dumps(r.drift, sort_keys=True) if r.drift else None for _, r, _, _ in rows],
                                pa.string()),
        "note": pa.array([r.note or None for _, r, _, _ in rows], pa.string()),
    })
    con.register("_af_ledger", table)
    try:
        con.execute(
            "INSERT OR REPLACE INTO ingest_ledger (file_id, path, size, sha256, source_kind, format, lines_read, "
            "rows_loaded, rows_rejected, first_event, last_event, started_at, finished_at, status, field_drift, note) "
            "SELECT file_id, path, size, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected, "
            "first_event, last_event, ?, ?, status, field_drift, note FROM _af_ledger",
            [started, finished])
    finally:
        con.unregister("_af_ledger")
