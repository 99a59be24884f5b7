"""Benchmark: one Zscaler 1M ingest, this checkout against another, in interleaved rounds.

Not a test. Issue 13's "ingest speed does not regress" is judged against a base commit's
ingest of the same files; single runs move by more than the gap (machine speed drifts between
minutes and sessions), so each round runs both sides, one after the other, on the same file,
and the verdict is the median over rounds of side / base.

    git worktree add --detach /work/wt-base326 326bb63
    python bench/ingest_ab.py --against /work/wt-base326 --data /work/ab-data
    python bench/ingest_ab.py --against /work/wt-base326 --formats json,csv,kv,leef,cef --rounds 6

Each ingest runs in a fresh child (`python bench/ingest_ab.py --child FILE DB`) whose PYTHONPATH
is the side's checkout (both sides use this interpreter and its packages: the base must import
with them; the first lines of the output say which zsaudit each side imported). Each side's
bytecode is cached in a folder of its own (PYTHONPYCACHEPREFIX, filled by a warm-up ingest of the
first lines of each file before round 1; PYTHONDONTWRITEBYTECODE is dropped from the children's
environment): an installed zsaudit has its bytecode, and compiling zsaudit's sources would count
as ingest. Each file is read once before the rounds, so round 1 does not time the disk.
Odd rounds run the base first, even rounds this checkout first.

The child measures itself from before `import zsaudit` to the end of the ingest (getrusage):
CPU-s = user + sys of all its threads, wall s, peak RSS, minor page faults. Every run's line is
printed as it ends (with the 1-minute load average before and after it, which the figures must
be read beside); the table at the end gives each format's medians and the median per-round
ratio. `--jsonl FILE` keeps the runs. Files are generated as bench/ingest.py generates them
(`--size` records) into `--data`, which is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARMUP_LINES = 2_000


def child(path: str, db: str) -> None:
    """One ingest of `path` into a new store `db`, by whatever zsaudit PYTHONPATH gives."""
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    import zsaudit
    from zsaudit.ingest import zscaler
    from zsaudit.store import Store

    with Store(db) as store:
        (res,) = zscaler.ingest_paths(store, [path])
    elapsed = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"rows": res.rows_loaded, "rejected": res.rows_rejected, "wall": elapsed,
                      "user": ru.ru_utime - ru0.ru_utime, "sys": ru.ru_stime - ru0.ru_stime,
                      "rss_mb": ru.ru_maxrss / 1024, "minflt": ru.ru_minflt - ru0.ru_minflt,
                      "zsaudit": zsaudit.__file__}))


def _env(checkout: Path, pycache: Path, extra: dict) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(checkout)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(extra)
    return env


def run(python: str, checkout: Path, pycache: Path, extra: dict, path: Path, db: Path) -> dict:
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    load0 = os.getloadavg()[0]
    out = subprocess.run([python, str(Path(__file__).resolve()), "--child", str(path), str(db)],
                         capture_output=True, text=True, env=_env(checkout, pycache, extra), cwd=db.parent)
    load1 = os.getloadavg()[0]
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    if out.returncode:
        sys.exit(f"child failed ({checkout}, {path}):\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(cpu=res["user"] + res["sys"], load=(load0, load1))
    return res


def generate(data: Path, fmt: str, n: int) -> Path:
    """bench/ingest.py's file of `n` records in `fmt`, in `data` (made once, kept)."""
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    import ingest as bench_ingest

    bench_ingest.DATA = data
    return bench_ingest.generate(fmt, n)


def head_file(path: Path, lines: int) -> Path:
    """The first `lines` lines of `path` (a CSV keeps its header), for the warm-up ingest."""
    out = path.with_name(f"warmup-{path.name}")
    if not out.exists():
        with open(path, "rb") as src, open(out, "wb") as dst:
            for _ in range(lines):
                line = src.readline()
                if not line:
                    break
                dst.write(line)
    return out


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", type=Path, help="the base checkout (e.g. a worktree at 326bb63)")
    ap.add_argument("--side", type=Path, default=ROOT, help="the checkout measured against it (default: this one)")
    ap.add_argument("--formats", default="json,csv")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--size", type=int, default=1_000_000, help="records per file")
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "data", help="the generated files (kept)")
    ap.add_argument("--python", default=sys.executable, help="interpreter of both sides (default: this one)")
    ap.add_argument("--side-env", action="append", default=[], metavar="NAME=VALUE",
                    help="environment of this side's children only (a knob to try)")
    ap.add_argument("--jsonl", type=Path, help="append every run as a JSON line to this file")
    ap.add_argument("--child", nargs=2, metavar=("PATH", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.against is None:
        ap.error("--against CHECKOUT is required")
    data = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    sides = {"base": (args.against.resolve(), {}),
             "side": (args.side.resolve(), dict(kv.split("=", 1) for kv in args.side_env))}
    pycache = {name: data / f"pycache-{name}" for name in sides}
    formats = args.formats.split(",")
    files = {fmt: generate(data, fmt, args.size) for fmt in formats}
    print(f"python {args.python}; load {os.getloadavg()[0]:.2f}; started {time.strftime('%H:%M:%S', time.gmtime())} UTC",
          flush=True)
    for fmt, path in files.items():                 # the page cache, and each side's bytecode
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
        warm = head_file(path, WARMUP_LINES)
        for name, (checkout, extra) in sides.items():
            res = run(args.python, checkout, pycache[name], extra, warm, data / f"ab-{name}.duckdb")
            if fmt == formats[0]:
                print(f"{name}: {checkout} -> {res['zsaudit']}", flush=True)
    runs: list[dict] = []
    print(f"{'round':>5} {'format':6} {'side':4} | {'CPU-s':>6} {'user':>6} {'sys':>5} {'wall s':>6} "
          f"{'RSS MB':>6} {'minflt':>8} | load before/after", flush=True)
    for rnd in range(1, args.rounds + 1):
        for fmt in formats:
            order = ["base", "side"] if rnd % 2 else ["side", "base"]
            for name in order:
                checkout, extra = sides[name]
                res = run(args.python, checkout, pycache[name], extra, files[fmt], data / f"ab-{name}.duckdb")
                if res["rows"] + res["rejected"] != args.size or res["rejected"]:
                    sys.exit(f"{name} {fmt}: {res['rows']} rows, {res['rejected']} rejected; expected {args.size} rows")
                res.update(round=rnd, format=fmt, side=name, time=time.strftime("%H:%M:%S", time.gmtime()))
                runs.append(res)
                print(f"{rnd:>5} {fmt:6} {name:4} | {res['cpu']:>6.2f} {res['user']:>6.2f} {res['sys']:>5.2f} "
                      f"{res['wall']:>6.2f} {res['rss_mb']:>6.0f} {res['minflt']:>8} | "
                      f"{res['load'][0]:.2f}/{res['load'][1]:.2f}", flush=True)
                if args.jsonl:
                    with open(args.jsonl, "a") as fh:
                        fh.write(json.dumps(res) + "\n")
    print(f"\nmedians over {args.rounds} rounds (side = {sides['side'][0]}, base = {sides['base'][0]}); "
          f"load {min(min(r['load']) for r in runs):.2f}-{max(max(r['load']) for r in runs):.2f}")
    print(f"{'format':6} | {'CPU-s base':>10} {'side':>6} {'ratio':>6} | {'wall base':>9} {'side':>6} {'ratio':>6} | "
          f"{'RSS base':>8} {'side':>5} | {'minflt base':>11} {'side':>8}")
    for fmt in formats:
        by = {name: {r["round"]: r for r in runs if r["format"] == fmt and r["side"] == name} for name in sides}
        med = {name: {k: _median([r[k] for r in by[name].values()]) for k in ("cpu", "wall", "rss_mb", "minflt")}
               for name in sides}
        ratio = {k: _median([by["side"][n][k] / by["base"][n][k] for n in by["base"]]) for k in ("cpu", "wall")}
        b, s = med["base"], med["side"]
        print(f"{fmt:6} | {b['cpu']:>10.2f} {s['cpu']:>6.2f} {ratio['cpu'] - 1:>+6.1%} | {b['wall']:>9.2f} "
              f"{s['wall']:>6.2f} {ratio['wall'] - 1:>+6.1%} | {b['rss_mb']:>8.0f} {s['rss_mb']:>5.0f} | "
              f"{b['minflt']:>11.0f} {s['minflt']:>8.0f}")
    print("ratio: the median over rounds of side / base (CPU-s = user + sys of the child)")


if __name__ == "__main__":
    main()
