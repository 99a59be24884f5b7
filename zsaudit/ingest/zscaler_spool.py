"""A Zscaler file parsed ahead by an ingest worker: its staged batches on disk until the writer's turn.

With several workers (zscaler.ingest_paths), each reads, sniffs and stages whole files while
the one writer appends the files before them. A file's staged batches (zscaler_batch.Staged) go
to one Arrow IPC stream in the spool folder beside the store, not to memory: the writer reads
them back memory-mapped, batch by batch, in file order. Lines the reader cut at the cap
(LongLine: a prefix, a length and a digest) are small and stay in the spool's list of entries.

The folder belongs to the one process that has the store open read-write (DuckDB's lock): what
a killed ingest left there is swept at the start of the next (sweep()).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from .limits import LongLine

SUFFIX = ".zsaudit-spool"


def folder(store_path: Path) -> Path:
    """The spool folder of the store at `store_path`: beside it, hidden."""
    return store_path.parent / f".{store_path.name}{SUFFIX}"


def sweep(path: Path) -> None:
    """Remove spools a killed ingest left (this process holds the store: none is in use)."""
    shutil.rmtree(path, ignore_errors=True)


class Spool:
    """One file's staged batches, in file order: written by its worker (add, close), read by
    the writer (staged), then removed (discard)."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = path, schema
        self.entries: list[tuple[int, LongLine | None]] = []   # (batches of rows, or -1 and a cut line)
        self.repaired = 0                                      # JSON lines repaired by the worker
        path.parent.mkdir(parents=True, exist_ok=True)
        self._sink = pa.OSFile(str(path), "wb")
        self._out = pa.ipc.new_stream(self._sink, schema)

    def add(self, staged) -> None:
        """One staged batch (zscaler_batch.Staged) of the file, in file order."""
        if staged is None:
            return
        if isinstance(staged, tuple):                 # (line, LongLine): a line cut at the cap
            self.entries.append((staged[0], staged[1]))
            return
        batches = staged.cast(self.schema).to_batches()
        for b in batches:
            self._out.write_batch(b)
        self.entries.append((len(batches), None))

    def close(self) -> None:
        self._out.close()
        self._sink.close()

    def staged(self) -> Iterator:
        """The staged batches as added: Arrow tables (memory-mapped) and (line, LongLine) tuples."""
        with pa.memory_map(str(self.path)) as source:
            reader = pa.ipc.open_stream(source)
            for n, long in self.entries:
                if long is not None:
                    yield n, long
                    continue
                yield pa.Table.from_batches([reader.read_next_batch() for _ in range(n)], self.schema)

    def discard(self) -> None:
        try:
            self.close()
        except Exception:
            pass
        self.path.unlink(missing_ok=True)
