"""Benchmark: `zsaudit ingest zscaler` against DuckDB's own readers on the same files.

Not a test. Generates ZIA web feeds (bench/data/, git-ignored) with zsaudit.ingest.nss_writer,
then, each in a fresh child process, measures wall time and peak RSS of
  - zsaudit ingest (zsaudit.ingest.zscaler.ingest_paths into a new DuckDB file), and
  - raw DuckDB: CREATE TABLE AS SELECT * FROM read_json / read_csv of the same file
    (json and csv only; DuckDB has no reader for key=value, LEEF or CEF).

    python bench/ingest.py                      # 1M records of each: json csv kv leef cef
    python bench/ingest.py --sizes 1000000,5000000 --formats json,kv
    python bench/ingest.py --keep               # keep bench/data/ afterwards

Children run with Python's bytecode cache allowed (PYTHONDONTWRITEBYTECODE dropped from their
environment, zsaudit imported once first), as an installed zsaudit runs: a child that compiled
zsaudit's sources would count ~0.1-0.3 CPU-s of compiling as ingest.

Each line ends with the 1-minute load average before and after the format's runs: the machine
may be shared, and a wall-clock rate means little beside a high load (compare rec/cpu-s).

Records are 20,000 rendered records repeated to the size asked (same shape as a feed); each
repetition carries other recordids and is a year later (time advances as in a feed: the
duplicate check reads only the rows of a batch's own times), so no record is a duplicate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
POOL = 20_000
RECORD_ID = 7379073205           # recordids are RECORD_ID + repetition, then 9 digits
YEAR = 2026                      # event times are in YEAR + repetition


def _records(n: int, seed: int = 7):
    rnd = random.Random(seed)
    t0 = datetime(YEAR, 11, 24, tzinfo=timezone.utc)
    hosts = ["api.billing.example", "s3.amazonaws.com", "pypi.org", "github.com", "login.microsoftonline.com"]
    for i in range(n):
        host = rnd.choice(hosts)
        yield {
            "event_time": t0 + timedelta(seconds=i), "login": f"svc-{rnd.randint(1, 40)}@corp.example",
            "department": "Data Platform", "location": "DC1", "client_ip": f"10.20.{rnd.randint(0, 9)}.{rnd.randint(1, 254)}",
            "client_public_ip": "203.0.113.5", "server_ip": f"198.51.100.{rnd.randint(1, 254)}",
            "device_hostname": f"airflow-worker-{rnd.randint(1, 8)}.corp.example", "device_owner": "airflow",
            "request_method": rnd.choice(["GET", "POST", "CONNECT"]), "url": f"{host}/v1/items/{i}?page={i % 7}&q=a b",
            "host": host, "protocol": "HTTPS", "response_code": rnd.choice([200, 200, 200, 403, 407]),
            "action": rnd.choice(["Allowed", "Allowed", "Blocked"]), "reason": "Allowed",
            "url_category": "Web Search", "url_super_category": "Information Technology", "url_class": "Business Use",
            "app_name": "General Browsing", "app_class": "General Browsing",
            "user_agent": "python-requests/2.31.0 (Linux; airflow)", "referer": None,
            "request_size": rnd.randint(100, 5000), "response_size": rnd.randint(100, 500000),
            "total_size": rnd.randint(200, 505000), "risk_score": rnd.randint(0, 20), "threat_name": None,
            "malware_category": None, "rule_type": None, "rule_label": None, "content_type": "application/json",
            "forward_method": "Zscaler Client Connector", "record_id": RECORD_ID * 10**9 + i,
        }


def generate(fmt: str, n: int) -> Path:
    from zsaudit.ingest import nss_writer

    DATA.mkdir(parents=True, exist_ok=True)
    out = DATA / f"web-{n}.{fmt}"
    if out.exists():
        return out
    lines = list(nss_writer.render_lines(_records(POOL), "zia_web", fmt))
    header = []
    if fmt in ("csv", "tsv"):
        header, lines = lines[:1], lines[1:]
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for h in header:
            fh.write(h + "\n")
        block = "\n".join(lines) + "\n"
        full, rest = divmod(n, len(lines))
        for k in range(full + 1):
            text = block if k < full else "\n".join(lines[:rest]) + "\n" if rest else ""
            fh.write(text.replace(str(RECORD_ID), str(RECORD_ID + k)).replace(str(YEAR), str(YEAR + k)))
    tmp.rename(out)
    return out


# -- child processes -------------------------------------------------------------------------------
def child(kind: str, path: str, db: str) -> None:
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = ru0.ru_utime + ru0.ru_stime
    t = time.perf_counter()
    if kind == "zsaudit":
        from zsaudit.ingest import zscaler
        from zsaudit.store import Store

        with Store(db) as store:
            (res,) = zscaler.ingest_paths(store, [path])
            rows = res.rows_loaded
            assert res.rows_rejected == 0, res.rows_rejected
    else:
        import duckdb

        con = duckdb.connect(db)
        reader = "read_json" if kind == "duckdb_json" else "read_csv"
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}(?)", [path])
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    elapsed = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - cpu0
    print(json.dumps({"rows": rows, "seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": ru.ru_maxrss / 1024}))


def _child_env() -> dict:
    """The children's environment: bytecode cached (see the module docstring)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(kind: str, path: Path) -> dict:
    db = DATA / f"bench-{kind}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(db)],
                         capture_output=True, text=True, check=True, env=_child_env())
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--formats", default="json,csv,kv,leef,cef")
    ap.add_argument("--keep", action="store_true", help="keep generated files in bench/data/")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(ROOT))
    subprocess.run([sys.executable, "-c", "import zsaudit.ingest.zscaler, zsaudit.store"],   # caches bytecode
                   check=True, env=_child_env(), cwd=ROOT)
    print("rec/s = records per wall-clock second; rec/cpu-s = per CPU-second (user+sys, all threads);")
    print("ratio = zsaudit throughput / DuckDB throughput (wall, and CPU)")
    print(f"{'format':6} {'records':>9} {'MB':>6} | {'zsaudit rec/s':>13} {'rec/cpu-s':>10} {'RSS MB':>6} | "
          f"{'duckdb rec/s':>12} {'rec/cpu-s':>10} {'RSS MB':>6} | {'ratio':>5} {'cpu':>5} | load before/after")
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            for fmt in args.formats.split(","):
                path = generate(fmt, n)
                mb = path.stat().st_size / 1e6
                load0 = os.getloadavg()[0]
                z = measure("zsaudit", path)
                assert z["rows"] == n, (z, n)
                line = (f"{fmt:6} {n:>9} {mb:>6.0f} | {n / z['seconds']:>13,.0f} {n / z['cpu_seconds']:>10,.0f}"
                        f" {z['peak_rss_mb']:>6.0f} |")
                if fmt in ("json", "csv"):
                    d = measure(f"duckdb_{fmt}", path)
                    line += (f" {n / d['seconds']:>12,.0f} {n / d['cpu_seconds']:>10,.0f} {d['peak_rss_mb']:>6.0f} |"
                             f" {d['seconds'] / z['seconds']:>5.2f} {d['cpu_seconds'] / z['cpu_seconds']:>5.2f}")
                else:
                    line += f" {'-':>12} {'-':>10} {'-':>6} | {'-':>5} {'-':>5}"
                print(f"{line} | {load0:.1f}/{os.getloadavg()[0]:.1f}", flush=True)
                if not args.keep:
                    path.unlink()
    finally:
        if not args.keep and DATA.exists():
            shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    main()
