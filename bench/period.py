"""Benchmark: render the SOC 2 Type II period pack of a quarter of nights (issue 16).

Target: a 90-night quarter of 1M requests a night renders its period pack (`zsaudit report
--period`, with the PDF) in under 2 minutes with peak RSS under 4 GB.

How the store is built (the render is what is timed): night by night, as `zsaudit run` would
  1. `synth.synthesize_nights`: N nights of the synthetic fleet with per-night variation (findings
     that appear, persist, resolve and come back, an exception that expires, a two-night Zscaler
     outage), ingested (each Zscaler source as one file);
  2. each night, bench/analyze.py's night of --requests-per-night web requests (1M: 20k task
     attempts, 100 more workers, blocked requests, unknown logins, failed attempts, off-hours
     traffic) generated into the same store with SQL, except on the outage nights;
  3. each night analysed over its own day (the identity map: synth's plus bench/analyze.py's
     workers), so the findings, lifecycle and not-evaluable rows the period pack reads are those
     of a quarter of 1M-request nights (about 10k findings a night).
Then `zsaudit report --period` runs in a child process; the script prints wall time and the
child's peak RSS, the pack's files and sizes.

    python bench/period.py                                  # 90 nights, 1M requests a night
    python bench/period.py --nights 30 --requests-per-night 100000 --keep /tmp/q
    python bench/period.py --store /tmp/q/zsaudit.duckdb    # render again on a store built before
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zsaudit.analyze.analysis import analyze  # noqa: E402
from zsaudit.ingest import airflow, zscaler  # noqa: E402
from zsaudit.store import Store  # noqa: E402
from zsaudit.synth import synthesize_nights  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from analyze import WORKER_TABLES, generate_night  # noqa: E402  (bench/analyze.py's night, one per day)

START = date(2026, 7, 1)

def build(base: Path, nights: int, per_night: int, synth_requests: int) -> Path:
    t0 = time.perf_counter()
    res = synthesize_nights(base / "in", nights=nights, start=START, requests=synth_requests, seed=3)
    feeds = base / "feeds"
    feeds.mkdir(exist_ok=True)
    for name in ("zia_web.json", "zpa_user_activity.json", "zpa_user_status.json"):
        with open(feeds / name, "wb") as out:
            for night in sorted((base / "in" / "zscaler").iterdir()):
                out.write((night / name).read_bytes())
    print(f"synth: {nights} nights in {time.perf_counter() - t0:.1f}s", flush=True)
    db = base / "zsaudit.duckdb"
    with Store(db) as store:
        t = time.perf_counter()
        zscaler.ingest_paths(store, [str(feeds)])
        airflow.ingest_paths(store, sorted(str(p) for p in (base / "in" / "airflow").iterdir()))
        print(f"ingest: {time.perf_counter() - t:.1f}s", flush=True)
        t = time.perf_counter()
        store.con.execute("SET enable_progress_bar = false")
        outage = set(res.outage)
        identity = base / "identity.toml"   # synth's accounts and fleet, and bench/analyze.py's workers
        identity.write_text(res.identity_path.read_text(encoding="utf-8") + WORKER_TABLES, encoding="utf-8")
        for i in range(nights):
            day = START + timedelta(days=i)
            night = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
            if day not in outage and per_night:   # no Zscaler logs on an outage night
                with store.transaction() as con:
                    generate_night(con, per_night, day, tag=f"n{i}:")
            s = analyze(store, identity, since=night, until=night + timedelta(days=1))
            if i % 10 == 0 or i == nights - 1:
                print(f"  night {i + 1}/{nights}: {time.perf_counter() - t:.0f}s, {sum(s.findings_by_kind.values())} findings",
                      flush=True)
        rows = store.con.execute("SELECT count(*) FROM zia_web").fetchone()[0]
        found = store.con.execute("SELECT count(*) FROM findings").fetchone()[0]
        print(f"nightly generate + analyze: {nights} nights in {time.perf_counter() - t:.1f}s; "
              f"{rows:,} zia_web rows, {found:,} finding rows", flush=True)
    print(f"store: {db.stat().st_size / 1e9:.2f} GB, built in {time.perf_counter() - t0:.1f}s", flush=True)
    return db


def render(db: Path, out: Path, period: str, pdf: bool) -> None:
    cmd = [sys.executable, "-m", "zsaudit", "report", "--period", period, "--out", str(out), "--db", str(db),
           "--generated-at", "2026-10-01T06:00:00Z", "--quiet"] + ([] if pdf else ["--no-pdf"])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu0
    load = os.getloadavg()
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    pdf_size = (out / "audit-pack.pdf").stat().st_size if pdf else 0
    print(f"period pack {period}: {wall:.1f}s ({cpu:.1f} CPU s), peak RSS {peak / 1e6:.2f} GB"
          f"{' (a child before used more)' if before > peak else ''}, pack {size / 1e6:.2f} MB "
          f"(PDF {pdf_size / 1e6:.2f} MB), load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nights", type=int, default=90)
    ap.add_argument("--requests-per-night", type=int, default=1_000_000)
    ap.add_argument("--synth-requests", type=int, default=200, help="requests of each synthesized night")
    ap.add_argument("--store", type=Path, default=None, help="render on this store instead of building one")
    ap.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    ap.add_argument("--period", default="2026-Q3")
    ap.add_argument("--no-pdf", action="store_true")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="zsaudit-bench-period-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        db = args.store or build(base, args.nights, args.requests_per_night, args.synth_requests)
        out = base / "pack"
        shutil.rmtree(out, ignore_errors=True)
        render(db, out, args.period, not args.no_pdf)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
