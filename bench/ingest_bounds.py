"""Benchmark: peak RSS of `zsaudit ingest zscaler` and `ingest airflow` on pathological sizes (issue #18).

Not a test. Each case is generated under bench/data/ (git-ignored) and ingested by the CLI in a
fresh child process into a new DuckDB file; the child's peak RSS (wait4) and wall time are
printed as a Markdown table for docs/benchmarks.md.

  wide-<G>     <G> GB (decompressed) of 16 KB JSON web lines, gzip-compressed (a few MB on disk)
  bomb-<G>     a gzip bomb: 5 valid lines, then <G> GB of 'A' with no newline, then 5 valid lines
  flat-<G>     the same as a plain file: a <G> GB line with no newline between valid lines
  tasklog-<G>  one Airflow 3 task log (JSON lines, ~250 bytes each) of <G> GB: `ingest airflow`
  taskflat-<G> one Airflow 2 task log: records around a <G> GB line with no newline

    python bench/ingest_bounds.py                         # wide 0.5,1,3  bomb 2  flat 2  tasklog 0.1,0.5,1  taskflat 1
    python bench/ingest_bounds.py --wide 0.25,0.5 --bomb 1 --flat 0.5 --tasklog "" --taskflat ""
    python bench/ingest_bounds.py --keep                  # keep bench/data/ afterwards
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
GB = 1 << 30
LINE = ('{ "sourcetype" : "zscalernss-web", "event" :{"time":"Tue Nov 24 10:%02d:%02d 2026",'
        '"login":"svc-etl@corp.example","eurl":"api.example.com/v1/items?q=%s","ehost":"api.example.com",'
        '"action":"Allowed","respcode":"200","cip":"10.0.0.%d","reqsize":"%d"}}\n')


def _line(i: int, width: int = 16 << 10) -> bytes:
    base = LINE % ((i // 60) % 60, i % 60, "", i % 250 + 1, i)
    pad = "x" * max(0, width - len(base))
    return (LINE % ((i // 60) % 60, i % 60, pad, i % 250 + 1, i)).encode()


def _write_wide(path: Path, size: float) -> None:
    block = b"".join(_line(i) for i in range(64))              # 64 distinct 16 KB lines, 1 MiB
    with gzip.open(path, "wb", compresslevel=1) as out:
        for _ in range(int(size * GB) // len(block)):
            out.write(block)


def _write_long(out, size: float) -> None:
    for i in range(5):
        out.write(_line(i, 400))
    chunk = b"A" * (16 << 20)
    for _ in range(int(size * GB) // len(chunk)):
        out.write(chunk)
    out.write(b"\n")
    for i in range(5, 10):
        out.write(_line(i, 400))


TASK_RECORD = ('{"timestamp": "2026-11-24T10:%02d:%02d.%06dZ", "level": "info", "event": "Fetched %d rows from '
               'https://api.example.com/v1/items?page=%d", "logger": "airflow.task", "chan": "stdout"}\n')
TASK_TEXT = "[2026-11-24T10:00:%02d.000+0000] {taskinstance.py:1} INFO - record %d\n"


def _write_tasklog(path: Path, size: float, flat: bool) -> None:
    with open(path, "wb") as out:
        if flat:
            out.write("".join(TASK_TEXT % (i, i) for i in range(5)).encode())
            chunk = b"A" * (16 << 20)
            for _ in range(int(size * GB) // len(chunk)):
                out.write(chunk)
            out.write(b"\n" + "".join(TASK_TEXT % (i, i) for i in range(5, 10)).encode())
            return
        block = "".join(TASK_RECORD % ((i // 60) % 60, i % 60, i, i, i) for i in range(4096)).encode()
        for _ in range(int(size * GB) // len(block)):
            out.write(block)


def generate(kind: str, size: float) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    if kind in ("tasklog", "taskflat"):   # a log tree of one attempt, in Airflow's default layout
        root = DATA / f"bounds-{kind}-{size}"
        path = root / "dag_id=bench/run_id=scheduled__2026-11-24T00:00:00+00:00/task_id=t/attempt=1.log"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_tasklog(path.with_name("partial"), size, kind == "taskflat")
            path.with_name("partial").rename(path)
        return root
    path = DATA / f"bounds-{kind}-{size}.{'log' if kind == 'flat' else 'log.gz'}"
    if path.exists():
        return path
    tmp = path.with_name(path.name + ".tmp")
    if kind == "wide":
        _write_wide(tmp, size)
    elif kind == "bomb":
        with gzip.open(tmp, "wb", compresslevel=9) as out:
            _write_long(out, size)
    else:
        with open(tmp, "wb") as out:
            _write_long(out, size)
    tmp.rename(path)
    return path


def measure(path: Path, source: str = "zscaler") -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, the CLI's summary line) of one ingest in a fresh process."""
    db = DATA / "bounds.duckdb"
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)
    cmd = [str(Path(sys.executable).with_name("zsaudit")), "ingest", source, str(path), "--db", str(db)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    summary = next((ln for ln in out.splitlines() if "lines read" in ln or "lines," in ln),
                   out.strip().splitlines()[-1:])
    if os.waitstatus_to_exitcode(status) not in (0, 2):
        summary = f"exit {os.waitstatus_to_exitcode(status)}: {out[-300:]}"
    return wall, usage.ru_maxrss / 1024, str(summary)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wide", default="0.5,1,3", help="GB of 16 KB lines (gzip), comma-separated")
    ap.add_argument("--bomb", default="2", help="GB of a newline-free run inside a gzip file")
    ap.add_argument("--flat", default="2", help="GB of a newline-free line in a plain file")
    ap.add_argument("--tasklog", default="0.1,0.5,1", help="GB of one Airflow 3 JSON task log")
    ap.add_argument("--taskflat", default="1", help="GB of a newline-free line in an Airflow 2 task log")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    cases = [(k, float(s)) for k, sizes in (("wide", args.wide), ("bomb", args.bomb), ("flat", args.flat),
                                            ("tasklog", args.tasklog), ("taskflat", args.taskflat))
             for s in sizes.split(",") if s]
    load = os.getloadavg()
    print(f"load average before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores\n")
    print("| case | decompressed | on disk | wall s | peak RSS MB | result |")
    print("|---|---|---|---|---|---|")
    try:
        for kind, size in cases:
            path = generate(kind, size)
            on_disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() \
                else path.stat().st_size
            wall, rss, summary = measure(path, "airflow" if path.is_dir() else "zscaler")
            print(f"| {kind} | {size:g} GB | {on_disk / (1 << 20):,.1f} MB | {wall:,.0f} | {rss:,.0f} | "
                  f"{summary.split(': ', 1)[-1]} |", flush=True)
            if kind != "wide" and not args.keep:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    finally:
        if not args.keep:
            (DATA / "bounds.duckdb").unlink(missing_ok=True)
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
