"""Benchmark: where the CPU of `zsaudit ingest zscaler` goes, stage by stage.

Not a test. Runs the ingester's stages one after another on one thread (no overlap, so each
stage's CPU seconds are its own; Polars and DuckDB threads are counted) over a file that
bench/ingest.py generates, and prints CPU seconds per stage and per million records:

    python bench/ingest_breakdown.py --records 200000 --formats kv,cef,leef,json,csv

The "fixed" stages (read, hash, cut lines, append + commit + checkpoint of the typed rows) are
what any parser would pay; their sum bounds the rate a zero-cost parser could reach on two
perfectly used cores, printed as "ceiling". The CPU clock is per process (all threads), so the
numbers hold up on a machine shared with other work better than wall-clock time does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

FIXED = ("read", "hash", "cut lines", "append", "commit + checkpoint")


def breakdown(path: Path) -> tuple[dict[str, float], int]:
    from zsaudit import queries
    from zsaudit.ingest import ledger, zscaler, zscaler_batch
    from zsaudit.ingest.zscaler_sniff import sniff
    from zsaudit.store import Store

    cpu: dict[str, float] = defaultdict(float)

    def timed(stage, fn, *args):
        t0 = time.process_time()
        out = fn(*args)
        cpu[stage] += time.process_time() - t0
        return out

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "b.duckdb") as store:
        con = store.con
        queries.set_option(con, "memory_limit", zscaler.MEMORY_LIMIT)
        sha = timed("hash", ledger.sha256_file, path)
        lines, _ = zscaler._head_lines(path, str(path))
        plan = sniff(str(path), lines)
        with store.chunked_transaction() as tx, \
                zscaler._FileLoad(tx, plan, label=str(path), file_id=sha, tz="UTC") as load:
            statement, writer = load.statement, load.writer
            flush = writer.flush
            writer.flush = lambda: timed("append", flush)
            with open(path, "rb") as fh:
                chunks = zscaler._iter_chunks(fh, str(path))
                while (chunk := timed("read", next, chunks, None)) is not None:
                    # the reader splits a batch into its lines as it reads it (zscaler._iter_chunks)
                    tab = timed("cut lines", lambda c: statement.numbered(
                        c[0], c[1] if not isinstance(c[1], memoryview | bytes) else zscaler_batch.decode_lines(c[1])),
                        chunk)
                    if tab is None:
                        continue
                    tab = timed("polars split", statement.split, tab)
                    staged = timed("batch SQL", statement.run, tab)
                    before = cpu["append"]
                    timed("judge + reject", load.consume, staged)
                    cpu["judge + reject"] -= cpu["append"] - before      # appends counted on their own
            writer.flush = flush
            timed("append", load.finish)
            t0 = time.process_time()
        cpu["commit + checkpoint"] += time.process_time() - t0
        timed("commit + checkpoint", queries.run, con, "store/checkpoint")
        return dict(cpu), writer.loaded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--formats", default="kv,cef,leef,json,csv")
    args = ap.parse_args()
    import ingest as bench_ingest

    print(f"CPU seconds per million records, one thread, load average {os.getloadavg()[0]:.1f}")
    for fmt in args.formats.split(","):
        path = bench_ingest.generate(fmt, args.records)
        cpu, rows = breakdown(path)
        per_m = {k: v * 1e6 / rows for k, v in cpu.items()}
        total = sum(per_m.values())
        fixed = sum(per_m.get(k, 0) for k in FIXED)
        stages = ", ".join(f"{k} {v:.2f}" for k, v in per_m.items())
        print(f"{fmt:5} total {total:5.2f} ({1e6 / total:,.0f} rec/CPU-s) | {stages}")
        print(f"{'':5} fixed {fixed:5.2f}: ceiling for a zero-cost parser on 2 cores {2e6 / fixed:,.0f} rec/s")


if __name__ == "__main__":
    main()
