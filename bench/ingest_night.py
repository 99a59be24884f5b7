"""Benchmark: a night of 24 hourly Zscaler files ingested on 1 core and on 2 cores (issue 17, item 1).

Not a test. Writes 24 ZIA web files (one per hour of a day, distinct recordids) into
bench/data/night-<fmt>-<records>/ (git-ignored) with zsaudit.ingest.nss_writer, then ingests the
folder into a new DuckDB file in a fresh child process pinned with `taskset -c 0` and with
`taskset -c 0,1`, alternately, and prints wall time, CPU seconds (user + sys, all threads), peak
RSS and the speed-up. Every run must load the same rows (asserted).

    python bench/ingest_night.py                        # json, 36,000 records per file, 3 rounds
    python bench/ingest_night.py --format kv --per-file 18000 --rounds 1
    python bench/ingest_night.py --workers 1            # the old one-file-at-a-time ingest

`--workers N` sets ZSAUDIT_INGEST_WORKERS for the child (default: one per core it may use).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from ingest import DATA, RECORD_ID, _records  # noqa: E402  (bench/ingest.py: the same records)

HOUR = 3600


def generate(fmt: str, per_file: int) -> Path:
    """24 files, file h holding events of hour h only: one hour of records rendered once,
    its hour and recordids rewritten per file and repetition (as bench/ingest.py does)."""
    from zsaudit.ingest import nss_writer

    out = DATA / f"night-{fmt}-{per_file}"
    if (out.parent / f"{out.name}.done").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lines = list(nss_writer.render_lines(_records(HOUR), "zia_web", fmt))
    header = []
    if fmt in ("csv", "tsv"):
        header, lines = lines[:1], lines[1:]
    block = "\n".join(lines) + "\n"
    hour0 = "Nov 24 00:" if fmt == "json" else "2026-11-24 00:"
    if hour0 not in block:
        hour0 = "Nov 24 2026 00:" if "Nov 24 2026 00:" in block else hour0
    assert hour0 in block, f"{fmt}: the bench's time rewrite does not match its lines"
    reps = -(-per_file // HOUR)
    for h in range(24):
        hourly = block.replace(hour0, hour0.replace(" 00:", f" {h:02d}:"))
        with open(out / f"zia-web-2026-11-24T{h:02d}.{fmt}", "w", encoding="utf-8") as fh:
            fh.writelines(header and [header[0] + "\n"])
            for k in range(reps):
                text = hourly.replace(str(RECORD_ID), str(RECORD_ID + 100 * h + k))
                if k == reps - 1 and per_file % HOUR:
                    text = "".join(text.splitlines(keepends=True)[:per_file % HOUR])
                fh.write(text)
    (out.parent / f"{out.name}.done").write_text("")
    return out


def child(folder: str, db: str) -> None:
    from zsaudit.ingest import zscaler
    from zsaudit.store import Store

    ru0 = resource.getrusage(resource.RUSAGE_SELF)      # imports done: the ingest itself
    t, main0 = time.perf_counter(), time.thread_time()

    with Store(db) as store:
        results = zscaler.ingest_paths(store, [folder])
    elapsed, main_cpu = time.perf_counter() - t, time.thread_time() - main0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"files": len(results), "rows": sum(r.rows_loaded for r in results),
                      "rejected": sum(r.rows_rejected for r in results),
                      "seconds": elapsed, "cpu_seconds": ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime,
                      "main_cpu_seconds": main_cpu, "peak_rss_mb": ru.ru_maxrss / 1024}))


def measure(folder: Path, cpus: str, workers: str | None) -> dict:
    db = DATA / "bench-night.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    env = dict(os.environ)
    if workers:
        env["ZSAUDIT_INGEST_WORKERS"] = workers
    load = os.getloadavg()[0]
    out = subprocess.run(["taskset", "-c", cpus, sys.executable, __file__, "--child", str(folder), str(db)],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(out.stderr)
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["load"] = (load, os.getloadavg()[0])
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--format", default="json")
    ap.add_argument("--per-file", type=int, default=36_000, help="records per hourly file")
    ap.add_argument("--rounds", type=int, default=3, help="1-core / 2-core pairs, alternately")
    ap.add_argument("--workers", default=None, help="ZSAUDIT_INGEST_WORKERS for the child")
    ap.add_argument("--keep", action="store_true", help="keep the generated night in bench/data/")
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = generate(args.format, args.per_file)
    mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    print(f"night: 24 files, {24 * args.per_file:,} {args.format} records, {mb:,.0f} MB; "
          f"workers={args.workers or 'default'}")
    print("writer CPU s: CPU of the thread that writes the store (serial); cap: the speed-up two free cores")
    print("could give at most with that serial part, CPU s / max(writer CPU s, CPU s / 2)")
    print(f"{'cpus':5} {'wall s':>7} {'rec/s':>9} {'CPU s':>6} {'writer':>6} {'cap':>5} {'RSS MB':>6} "
          f"{'load before/after':>18}")
    walls: dict[str, list[float]] = {"0": [], "0,1": []}
    rows = None
    try:
        for _ in range(args.rounds):
            for cpus in ("0", "0,1"):
                r = measure(folder, cpus, args.workers)
                assert r["files"] == 24 and r["rejected"] == 0, r
                assert rows in (None, r["rows"]), (rows, r)     # every run loads the same rows
                rows = r["rows"]
                walls[cpus].append(r["seconds"])
                cap = r["cpu_seconds"] / max(r["main_cpu_seconds"], r["cpu_seconds"] / 2)
                print(f"{cpus:5} {r['seconds']:>7.1f} {r['rows'] / r['seconds']:>9,.0f} {r['cpu_seconds']:>6.1f} "
                      f"{r['main_cpu_seconds']:>6.1f} {cap:>5.2f} {r['peak_rss_mb']:>6.0f} "
                      f"{r['load'][0]:>8.2f} / {r['load'][1]:.2f}", flush=True)
        one, two = min(walls["0"]), min(walls["0,1"])
        print(f"best of {args.rounds}: 1 core {one:.1f} s, 2 cores {two:.1f} s: speed-up {one / two:.2f}x "
              f"({rows:,} rows each run)")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
            (folder.parent / f"{folder.name}.done").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
