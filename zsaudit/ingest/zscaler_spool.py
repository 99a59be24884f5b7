"""A Zscaler file parsed ahead by an ingest worker: its staged batches held until the writer's turn.

With several workers (zscaler.ingest_paths), each reads, sniffs and stages whole files while
the one writer appends the files before them. A file's staged batches (zscaler_batch.Staged)
stay in memory while the ingest's Budget allows (MEMORY_PER_WORKER for each worker, all the
files ahead together), and go to one Arrow IPC stream in the spool folder beside the store past
it: the writer reads those back memory-mapped, batch by batch, in file order. Held in memory, a
batch costs no IPC write, page-cache copy, mapping and unlink (measured in docs/benchmarks.md,
"A night of 24 files"). Lines the reader cut at the cap (LongLine: a prefix, a length and a
digest) are small and stay in the spool's list of entries.

The folder belongs to the one process that has the store open read-write (DuckDB's lock): what
a killed ingest left there is swept at the start of the next (sweep()).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from .limits import LongLine

SUFFIX = ".zsaudit-spool"
MEMORY_PER_WORKER = 64 << 20     # staged batches held in memory for the writer, per worker


def folder(store_path: Path) -> Path:
    """The spool folder of the store at `store_path`: beside it, hidden."""
    return store_path.parent / f".{store_path.name}{SUFFIX}"


def sweep(path: Path) -> None:
    """Remove spools a killed ingest left (this process holds the store: none is in use)."""
    shutil.rmtree(path, ignore_errors=True)


class Budget:
    """Bytes of staged batches the spools of one ingest may hold in memory at once (shared by
    its workers, given back as the writer takes each batch)."""

    def __init__(self, limit: int):
        self.limit, self.held = limit, 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self._lock:
            if self.held + n > self.limit:
                return False
            self.held += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.held -= n


class Spool:
    """One file's staged batches, in file order: written by its worker (add, close), read by
    the writer (staged), then removed (discard). Batches within `budget` stay in memory; the
    others go to the IPC stream at `path` (opened at the first such batch)."""

    def __init__(self, path: Path, schema: pa.Schema, budget: Budget | None = None):
        self.path, self.schema, self.budget = path, schema, budget
        # in file order: a table held in memory, (batches in the stream, None), or (line, LongLine)
        self.entries: list[pa.Table | tuple[int, LongLine | None]] = []
        self.repaired = 0                                      # JSON lines repaired by the worker
        self.held = 0                                          # bytes of this spool's budget
        self._sink = self._out = None

    def add(self, staged) -> None:
        """One staged batch (zscaler_batch.Staged) of the file, in file order."""
        if staged is None:
            return
        if isinstance(staged, tuple):                 # (line, LongLine): a line cut at the cap
            self.entries.append((staged[0], staged[1]))
            return
        if staged.schema != self.schema:              # a cast only where a batch differs
            staged = staged.cast(self.schema)
        if self.budget is not None and self.budget.take(staged.nbytes):
            self.held += staged.nbytes
            self.entries.append(staged)
            return
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._sink = pa.OSFile(str(self.path), "wb")
            self._out = pa.ipc.new_stream(self._sink, self.schema)
        batches = staged.to_batches()
        for b in batches:
            self._out.write_batch(b)
        self.entries.append((len(batches), None))

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._sink.close()

    def staged(self) -> Iterator:
        """The staged batches as added: Arrow tables (held, or memory-mapped) and (line, LongLine)
        tuples; a held batch's memory goes back to the budget as it is taken."""
        source = pa.memory_map(str(self.path)) if self._out is not None else None
        try:
            reader = pa.ipc.open_stream(source) if source is not None else None
            for i, entry in enumerate(self.entries):
                if isinstance(entry, pa.Table):
                    self.entries[i] = (0, None)           # the writer holds it now, not the spool
                    self._give(entry.nbytes)
                    yield entry
                    continue
                n, long = entry
                if long is not None:
                    yield n, long
                    continue
                yield pa.Table.from_batches([reader.read_next_batch() for _ in range(n)], self.schema)
        finally:
            if source is not None:
                source.close()

    def _give(self, n: int) -> None:
        if self.budget is not None and n:
            self.budget.give(n)
            self.held -= n

    def discard(self) -> None:
        self.entries = []
        self._give(self.held)
        try:
            self.close()
        except Exception:
            pass
        self.path.unlink(missing_ok=True)
