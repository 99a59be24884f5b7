"""The ingest ledger and rejects: what was read from each file, what loaded, what was refused.

Shared by every ingester. Per file: lines_read = rows_loaded + rows_rejected, and the file's
rows, its rejects and its ledger row are written in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

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
    skipped: bool = False            # same sha256 already in the ledger
    replaced: bool = False           # a grown file replaced its earlier rows
    drift: dict | None = None
    hosts_derived: int = 0           # zia_web rows whose host was taken from their URL
    note: str = ""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return f"{self.path}: already ingested (sha256 {self.sha256[:12]}), skipped"
        text = (
            f"{self.path}: {self.source_kind} as {self.format}: {self.lines_read} lines read, "
            f"{self.rows_loaded} loaded, {self.rows_rejected} rejected"
        )
        if self.replaced:
            text += " (replaced an earlier, shorter copy)"
        return text


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
    """Write the ledger row for a file; call inside the file's transaction."""
    con.execute(
        """
        INSERT OR REPLACE INTO ingest_ledger
            (file_id, path, size, sha256, source_kind, format, lines_read, rows_loaded, rows_rejected,
             first_event, last_event, started_at, finished_at, status, field_drift, note, hosts_derived)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            result.sha256, result.path, size, result.sha256, result.source_kind, result.format,
            result.lines_read, result.rows_loaded, result.rows_rejected, first_event, last_event,
            started_at, now_utc(), "replaced" if result.replaced else "loaded",
            json.dumps(result.drift, sort_keys=True) if result.drift else None, result.note or None,
            result.hosts_derived,
        ],
    )


def insert_rejects(con, file_id: str, source_file: str, line_numbers, raws, reasons, *,
                   lengths=None, sha256s=None) -> int:
    """Bulk-insert rejected lines (columnar, no per-row SQL; lists or Arrow arrays). Each keeps
    its first REJECT_KEEP_CHARS characters, its length in bytes and its sha256; `lengths` and
    `sha256s` are given for lines the reader cut off (limits.LongLine). Returns how many."""
    from .. import queries
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
    con.register("_zsaudit_rejects", table)
    try:
        con.execute(queries.load("ingest/insert_rejects"), {"keep": REJECT_KEEP_CHARS})
    finally:
        con.unregister("_zsaudit_rejects")
    return n


def _column(values, typ) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks().cast(typ)
    return values.cast(typ) if isinstance(values, pa.Array) else pa.array(values, typ)


def sweep_orphans(con) -> None:
    """Delete rows and rejects whose file has no ledger row (an interrupted chunked load)."""
    from .. import queries

    con.execute(queries.load("ingest/sweep_orphans"))
