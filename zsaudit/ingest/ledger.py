"""The ingest ledger and rejects: what was read from each file, what loaded, what was refused.

Shared by every ingester. Per file: lines_read = rows_loaded + rows_rejected + rows_duplicate
(duplicates: Zscaler records already loaded), and the file's rows, its rejects and its ledger row
are written in one transaction (a large Zscaler file: see ingest_inflight in store.py). A file no
line of which could be a record gets a ledger row with status `refused` and the reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from .. import queries

HASH_CHUNK = 1 << 20


@dataclass
class FileResult:
    path: str
    sha256: str
    source_kind: str = ""
    format: str = ""
    lines_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0          # records whose natural key was already loaded
    top_reject_reason: str | None = None
    refused: str | None = None       # why no line of the file could be a record
    skipped: bool = False            # same sha256 already in the ledger
    replaced: bool = False           # a grown file replaced its earlier rows
    drift: dict | None = None
    hosts_derived: int = 0           # zia_web rows whose host was taken from their URL
    note: str = ""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return f"{self.path}: already ingested (sha256 {self.sha256[:12]}), skipped"
        if self.refused:
            return f"{self.path}: refused: {self.refused}"
        text = (
            f"{self.path}: {self.source_kind} as {self.format}: {self.lines_read} lines read, "
            f"{self.rows_loaded} loaded, {self.rows_rejected} rejected"
        )
        if self.rows_duplicate:
            text += f", {self.rows_duplicate} duplicates (already loaded, not loaded again)"
        if self.replaced:
            text += " (replaced an earlier, shorter copy)"
        return text

    @property
    def reject_rate(self) -> float:
        """Share of the file's lines that were rejected (0 for a file with no lines)."""
        return self.rows_rejected / self.lines_read if self.lines_read else 0.0

    @property
    def status(self) -> str:
        return "refused" if self.refused else "replaced" if self.replaced else "loaded"


def over_reject_rate(results: list[FileResult], max_rate: float | None) -> list[str]:
    """One message per file whose rejected share exceeds `max_rate` (a fraction; None: no limit)."""
    if max_rate is None:
        return []
    return [
        f"{r.path}: {r.rows_rejected} of {r.lines_read} lines rejected ({r.reject_rate:.1%}, over the "
        f"--max-reject-rate of {max_rate:.1%}); most frequent reason: {r.top_reject_reason}; the "
        f"{r.rows_loaded} good rows are loaded, the rejected lines are in the rejects table"
        for r in results
        if not r.skipped and not r.refused and r.reject_rate > max_rate
    ]


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def rid_prefix(sha256: str) -> str:
    """Evidence ids of a file's rows are '<prefix>:<line>'."""
    return sha256[:16]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def record(con, result: FileResult, *, size: int | None, started_at: datetime,
           first_event=None, last_event=None) -> None:
    """Write the ledger row for a file; call inside the file's transaction (its rejects are
    already in; the most frequent reason among them goes into the row)."""
    if result.rows_rejected and result.top_reject_reason is None:
        result.top_reject_reason = queries.scalar(con, "ingest/top_reject_reason", {"file_id": result.sha256})
    write(con, [(result.sha256, size, result, first_event, last_event)], started_at)
    queries.run(con, "ingest/end_inflight", {"file_id": result.sha256})


def write(con, rows: list[tuple], started_at: datetime) -> None:
    """The one ledger writer: rows = [(file_id, size, FileResult, first_event, last_event), ...],
    written in one statement inside the caller's transaction (queries/ingest/insert_ledger.sql)."""
    if not rows:
        return
    results = [r for _, _, r, _, _ in rows]
    table = pa.table({
        "file_id": pa.array([file_id for file_id, _, _, _, _ in rows], pa.string()),
        "path": pa.array([r.path for r in results], pa.string()),
        "size": pa.array([size for _, size, _, _, _ in rows], pa.int64()),
        "sha256": pa.array([r.sha256 for r in results], pa.string()),
        "source_kind": pa.array([r.source_kind for r in results], pa.string()),
        "format": pa.array([r.format for r in results], pa.string()),
        "lines_read": pa.array([r.lines_read for r in results], pa.int64()),
        "rows_loaded": pa.array([r.rows_loaded for r in results], pa.int64()),
        "rows_rejected": pa.array([r.rows_rejected for r in results], pa.int64()),
        "rows_duplicate": pa.array([r.rows_duplicate for r in results], pa.int64()),
        "top_reject_reason": pa.array([r.top_reject_reason for r in results], pa.string()),
        "first_event": pa.array([first for _, _, _, first, _ in rows], pa.timestamp("us", tz="UTC")),
        "last_event": pa.array([last for _, _, _, _, last in rows], pa.timestamp("us", tz="UTC")),
        "status": pa.array([r.status for r in results], pa.string()),
        "field_drift": pa.array([json.dumps(r.drift, sort_keys=True) if r.drift else None for r in results],
                                pa.string()),
        "note": pa.array([(r.refused or r.note) or None for r in results], pa.string()),
        "hosts_derived": pa.array([r.hosts_derived for r in results], pa.int64()),
    })
    queries.run(con, "ingest/insert_ledger", {"started": started_at, "finished": now_utc()},
                tables={"_ledger_rows": table})


def insert_rejects(con, file_id: str, source_file: str, line_numbers, raws, reasons, *,
                   lengths=None, sha256s=None) -> int:
    """Bulk-insert rejected lines (columnar, no per-row SQL; lists or Arrow arrays). Each keeps
    its first REJECT_KEEP_CHARS characters, its length in bytes and its sha256; `lengths` and
    `sha256s` are given for lines the reader cut off (limits.LongLine). Returns how many."""
    from .limits import REJECT_KEEP_CHARS

    n = len(line_numbers)
    if n == 0:
        return 0
    table = pa.table(
        {
            "file_id": pa.array([file_id] * n, pa.string()),
            "source_file": pa.array([source_file] * n, pa.string()),
            "source_line": _column(line_numbers, pa.int64()),
            "raw": _column(raws, pa.string()),
            "reason": _column(reasons, pa.string()),
            "raw_bytes": pa.array(lengths if lengths is not None else [None] * n, pa.int64()),
            "raw_sha256": pa.array(sha256s if sha256s is not None else [None] * n, pa.string()),
        }
    )
    queries.run(con, "ingest/insert_rejects", {"keep": REJECT_KEEP_CHARS}, tables={"_zsaudit_rejects": table})
    return n


def _column(values, typ) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks().cast(typ)
    return values.cast(typ) if isinstance(values, pa.Array) else pa.array(values, typ)


def begin_inflight(con, file_id: str, source_kind: str, path: str, started_at: datetime) -> None:
    """Mark a file whose load is about to commit rows before its ledger row (see record())."""
    queries.run(con, "ingest/begin_inflight",
                {"file_id": file_id, "source_kind": source_kind, "path": path, "started_at": started_at})


def sweep_orphans(con) -> None:
    """Delete rows and rejects whose file has no ledger row (an interrupted chunked load). Asked
    first in one statement: a store has none almost always, and the eight DELETEs cost ~11 ms
    CPU a call where the question costs ~5 (every `ingest_paths` call sweeps)."""
    if queries.scalar(con, "ingest/orphans_exist"):
        queries.run(con, "ingest/sweep_orphans")
