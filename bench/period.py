"""Benchmark: render the SOC 2 Type II period pack of a quarter of nights (issue 16).

Target: a 90-night quarter of 1M requests a night renders its period pack (`zsaudit report
--period`, with the PDF) in under 2 minutes with peak RSS under 4 GB.

How the store is built (the render is what is timed):
  1. `synth.synthesize_nights`: N nights of the synthetic fleet with per-night variation (findings
     that appear, persist, resolve and come back, an exception that expires, a two-night Zscaler
     outage), ingested (each Zscaler source as one file) and analysed night by night, as
     `zsaudit run` would: the nightly history the period pack reads;
  2. filler requests generated straight into zia_web with SQL, up to --requests-per-night a night
     (90M rows for the default quarter), so the store and its tables have a quarter's size. They
     are added after the nightly analyses (analysing 90M requests is the nightly job's cost, see
     bench/analyze.py): the period pack reads the analyses' findings, not the requests, and this
     measures that it stays independent of them.
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

START = date(2026, 7, 1)

FILLER = """
INSERT INTO zia_web (rid, event_time, login, department, location, client_ip, device_hostname, request_method,
                     url, host, protocol, response_code, action, reason, url_category, user_agent, request_size,
                     response_size, record_id, file_id, source_file, source_line, record_key)
SELECT 'filler' || $night_no || ':' || i,
       $night + to_microseconds((i * (86400000000 // $n))::BIGINT),
       'svc-' || (['billing', 'etl', 'ml', 'reports'])[i % 4 + 1] || '@corp.example',
       'Data Platform', 'DC-1', '10.20.0.' || (i % 8 + 11), 'airflow-worker-' || (i % 8 + 1) || '.corp.example',
       CASE WHEN i % 3 = 0 THEN 'POST' ELSE 'GET' END,
       'https://api' || (i % 40) || '.partner.example/v1/items/' || (i % 1000), 'api' || (i % 40) || '.partner.example',
       'HTTPS', 200, 'Allowed', 'Allowed', 'Business', 'python-requests/2.32', 900 + i % 500, 3000 + i % 7000,
       900000000000 + $night_no * 10000000 + i, 'filler' || $night_no, '/bench/filler/' || $night_no || '.json', i + 1,
       hash(i, $night_no)
FROM range($n) t(i)
"""


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
        for i in range(nights):
            night = datetime.combine(START + timedelta(days=i), datetime.min.time(), tzinfo=timezone.utc)
            analyze(store, res.identity_path, since=night, until=night + timedelta(days=1))
        print(f"nightly analyses: {nights} in {time.perf_counter() - t:.1f}s", flush=True)
        t = time.perf_counter()
        store.con.execute("SET enable_progress_bar = false")
        outage = set(res.outage)
        for i in range(nights):
            day = START + timedelta(days=i)
            if day in outage:
                continue
            night = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)
            with store.transaction() as con:
                con.execute(FILLER, {"night": night, "night_no": i, "n": per_night})
        rows = store.con.execute("SELECT count(*) FROM zia_web").fetchone()[0]
        print(f"filler: {rows:,} zia_web rows in {time.perf_counter() - t:.1f}s", flush=True)
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
