"""Benchmark: correlation + findings (`zsaudit.analyze.analysis.analyze`) at 1M, 3M and 10M web requests.

Not a test. Data is generated straight into a DuckDB file (no log files): a day of a fleet of
100 workers, two lanes each (billing and etl DAGs running concurrently), 20k task attempts per
million requests (200k at 10M), ~50 requests per attempt, mapped tasks, retries, connections,
egress hints for 30% of attempts, ZPA user status sessions every 10 minutes, and a sprinkle of
planted anomalies. Each size is analysed in a fresh child process so its peak RSS is its own.

    .venv/bin/python bench/analyze.py                     # 1M, 3M, 10M
    .venv/bin/python bench/analyze.py --sizes 200k,1M     # quick
    .venv/bin/python bench/analyze.py --no-peers          # zsaudit only

With the peers (default), each size is also correlated by the hand-written peers in bench/peers/
(a pandas merge_asof script and one plain DuckDB range-join query), each in a fresh child
process on the same store, after zsaudit; the bench asserts they produce zsaudit's rows (per
worker request: status and attempt; per successful attempt: its silent-failure count) and prints
zsaudit's wall time over each peer's.
Floors (issue 5): 10M requests + 200k attempts correlated and detected in < 90 s, peak RSS < 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zsaudit.identity_map import dumps  # noqa: E402

WORKERS = 100
# the fleet's workers as [[worker]] tables (identity_map.dumps, the one TOML writer); bench/period.py
# adds them to synth's map
WORKER_TABLES = "\n" + dumps(workers=[{"hostname": f"w{i}", "ips": [f"10.1.{i // 250}.{i % 250}"],
                                        "device_hostnames": [f"w{i}.corp.example"]} for i in range(WORKERS)])
IDENTITY = (ROOT / "fixtures" / "identity" / "two_accounts.toml").read_text() + WORKER_TABLES


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * mult)


def generate(db: Path, requests: int) -> dict:
    """Fill a fresh store with `requests` web requests and requests/50 attempts (2026-11-24)."""
    from zsaudit.store import Store

    with Store(db) as store:
        con = store.con
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        t0 = time.perf_counter()
        generate_night(con, requests, date(2026, 11, 24))
        con.execute("CHECKPOINT")
        counts = {
            "web_requests": con.execute("SELECT count(*) FROM zia_web").fetchone()[0],
            "attempts": con.execute("SELECT count(*) FROM task_attempts").fetchone()[0],
            "generate_s": round(time.perf_counter() - t0, 1),
        }
    return counts


def generate_night(con, requests: int, day: date, tag: str = "") -> None:
    """Add one night (`day`, UTC) of the fleet to an open store: `requests` web requests and
    requests/50 attempts. `tag` prefixes every id, so that several nights share one store
    (bench/period.py's quarter); with no tag the ids are the single night's of earlier runs."""
    attempts = requests // 50
    lanes = WORKERS * 2
    per_lane = max(1, attempts // lanes)
    slot = 86400.0 / per_lane                       # seconds per attempt slot in a lane (one day)
    params = {"day": datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc), "tag": tag,
              "run": f"scheduled__{day.isoformat()}__" if tag else "scheduled__"}

    def sql(text: str):  # DuckDB takes exactly the parameters a statement names
        return con.execute(text, {k: v for k, v in params.items() if f"${k}" in text})

    sql(f"""
        CREATE OR REPLACE TEMP TABLE g AS
        SELECT i AS n, (i % {lanes}) AS lane, (i // {lanes}) AS k,
               ((i % {lanes}) // 2) AS w, (i % {lanes}) % 2 AS b,
               hash(i) AS h
        FROM range({per_lane * lanes}) t(i)""")
    sql(f"""
        CREATE OR REPLACE TEMP TABLE ga AS
        SELECT substr(sha256($tag || n::VARCHAR), 1, 16) AS attempt_id,
               CASE b WHEN 0 THEN 'billing_daily' ELSE 'etl_hourly' END AS dag_id,
               $run || k AS run_id, 'task_' || (h % 7) AS task_id,
               CASE WHEN b = 1 AND h % 3 = 0 THEN (h % 5)::INTEGER ELSE -1 END AS map_index,
               CASE WHEN h % 10 = 0 THEN 2 ELSE 1 END AS try_number,
               'w' || w AS hostname,
               $day + to_microseconds((k * {slot} * 1e6)::BIGINT) AS start_time,
               $day + to_microseconds(((k * {slot} + {slot} * (0.55 + (h % 30) / 100.0)) * 1e6)::BIGINT) AS end_time,
               CASE WHEN h % 50 = 0 THEN 'failed' ELSE 'success' END AS state,
               n + 1 AS n
        FROM g""")
    sql("""
        INSERT INTO task_attempts (attempt_id, dag_id, run_id, task_id, map_index, try_number, hostname,
                                   start_time, end_time, state)
        SELECT attempt_id, dag_id, run_id, task_id, map_index, try_number, hostname, start_time, end_time, state
        FROM ga""")
    sql("""
        INSERT INTO task_connections (attempt_id, dag_id, run_id, task_id, map_index, try_number, event_time, conn_id)
        SELECT attempt_id, dag_id, run_id, task_id, map_index, try_number, start_time,
               CASE WHEN dag_id LIKE 'billing%' THEN 'billing_api' ELSE 'warehouse' END
        FROM ga""")
    sql("""
        INSERT INTO task_egress_hints (attempt_id, dag_id, run_id, task_id, map_index, try_number, event_time, url,
                                       host, source_line)
        SELECT attempt_id, dag_id, run_id, task_id, map_index, try_number, start_time + INTERVAL 1 SECOND,
               'https://' || host || '/x', host, 12
        FROM (SELECT *, CASE WHEN dag_id LIKE 'billing%' THEN 'api.billing.example'
                             ELSE 'shard-' || greatest(map_index, 0) || '.warehouse.example' END AS host
              FROM ga WHERE n % 10 < 3)""")
    # ~50 requests per attempt inside its window; 1% blocked; a few unknown logins.
    per = requests // max(1, sql("SELECT count(*) FROM ga").fetchone()[0])
    sql(f"""
        INSERT INTO zia_web (rid, event_time, login, client_ip, device_hostname, url, host, action,
                             response_code, reason, file_id, source_file, source_line)
        SELECT $tag || 'b:' || ga.n || ':' || j,
               ga.start_time + to_microseconds(((epoch(ga.end_time) - epoch(ga.start_time))
                                                * ((j + 0.5) / {per}) * 1e6)::BIGINT),
               CASE WHEN (ga.n + j) % 5000 = 0 THEN 'jdoe@corp.example'
                    WHEN ga.dag_id LIKE 'billing%' THEN 'svc-billing@corp.example' ELSE 'svc-etl@corp.example' END,
               '10.1.' || (CAST(substr(ga.hostname, 2) AS INTEGER) // 250) || '.'
                   || (CAST(substr(ga.hostname, 2) AS INTEGER) % 250),
               ga.hostname || '.corp.example',
               host || '/v1/' || j, host,
               CASE WHEN (ga.n * 31 + j) % 100 = 0 THEN 'Blocked' ELSE 'Allowed' END,
               CASE WHEN (ga.n * 31 + j) % 100 = 0 THEN 403 ELSE 200 END,
               'Allowed', 'bench', 'bench', j
        FROM (SELECT *, CASE WHEN dag_id LIKE 'billing%' THEN 'api.billing.example'
                             ELSE 'shard-' || greatest(map_index, 0) || '.warehouse.example' END AS host
              FROM ga) ga, range({per}) t(j)""")
    # off-hours worker traffic (unattributed) and laptop traffic (ignored)
    sql("""
        INSERT INTO zia_web (rid, event_time, login, client_ip, device_hostname, url, host, action, response_code,
                             file_id, source_file, source_line)
        SELECT $tag || 'u:' || i, $day + INTERVAL '23:59:59' - to_microseconds(i * 1000),
               'svc-etl@corp.example', '10.1.0.' || (i % 100), 'w' || (i % 100) || '.corp.example',
               'repo.pypi.example/simple', 'repo.pypi.example', 'Allowed', 200, 'bench', 'bench', i
        FROM range(1000) t(i)""")
    sql("""
        INSERT INTO zpa_user_status (rid, event_time, username, session_id, session_status, authenticated_at,
                                     file_id, source_file, source_line)
        SELECT $tag || 's:' || l || ':' || i, ts, l, $tag || l || i, 'ZPN_STATUS_AUTHENTICATED', ts, 'bench', 'bench', i
        FROM (SELECT unnest(['svc-billing@corp.example', 'svc-etl@corp.example']) AS l),
             (SELECT i, $day - INTERVAL 30 MINUTE + i * INTERVAL 10 MINUTE AS ts
              FROM range(156) t(i) WHERE i NOT IN (60, 61))""")


def child(db: str, identity: str) -> None:
    """Run analyze once and print timing + peak RSS as JSON (a fresh process per size)."""
    from zsaudit.analyze.analysis import analyze
    from zsaudit.store import Store

    def cpu() -> float:
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    with Store(db) as store:
        load = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), cpu()
        s = analyze(store, identity, since="2026-11-24", until="2026-11-25")
        seconds, cpu_s = time.perf_counter() - t0, cpu() - c0
        load = max(load, os.getloadavg()[0])
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(json.dumps({"analyze_s": round(seconds, 1), "cpu_s": round(cpu_s, 1), "load_avg": round(load, 1),
                      "peak_rss_gb": round(rss_gb, 2),
                      "attributed": s.attributed, "ambiguous": s.ambiguous, "unattributed": s.unattributed,
                      "findings": s.findings_by_kind, "not_evaluable": s.not_evaluable_by_check}))


PEERS = ("duckdb_rangejoin", "pandas_asof")
SINCE, UNTIL = "2026-11-24 00:00:00+00", "2026-11-25 00:00:00+00"


def peer_child(name: str, db: str, identity: str, out: str) -> None:
    """Run one peer, write its rows to Parquet, print its wall / CPU time as JSON."""
    import importlib
    from datetime import datetime

    import pyarrow.parquet as pq

    peers = importlib.import_module("bench.peers")
    peer = importlib.import_module(f"bench.peers.{name}")
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    imap = peers.identity(identity)
    attr, silent = peer.run(db, imap, datetime.fromisoformat(SINCE), datetime.fromisoformat(UNTIL))
    seconds = time.perf_counter() - t0
    u = resource.getrusage(resource.RUSAGE_SELF)
    pq.write_table(attr, out + ".attr.parquet")
    pq.write_table(silent, out + ".silent.parquet")
    print(json.dumps({"peer": name, "seconds": round(seconds, 2),
                      "cpu_s": round(u.ru_utime + u.ru_stime - u0.ru_utime - u0.ru_stime, 1),
                      "peak_rss_gb": round(u.ru_maxrss / 1024 / 1024, 2), "rows": attr.num_rows}))


def same_rows(db: Path, out: str) -> tuple[int, int]:
    """(rows that differ, silent failures that differ) between zsaudit's store and a peer's."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute(f"CREATE TEMP VIEW pa AS SELECT * FROM read_parquet('{out}.attr.parquet')")
        con.execute(f"CREATE TEMP VIEW ps AS SELECT * FROM read_parquet('{out}.silent.parquet')")
        con.execute("""CREATE TEMP VIEW za AS SELECT request_rid AS rid, status, attempt_id FROM attributions
                       WHERE request_table = 'zia_web'""")
        con.execute("""CREATE TEMP VIEW zs AS SELECT attempt_id, evidence_count AS n FROM findings
                       WHERE kind = 'silent_failure'""")
        diff = con.execute("SELECT (SELECT count(*) FROM (SELECT * FROM za EXCEPT ALL SELECT * FROM pa)) + "
                           "(SELECT count(*) FROM (SELECT * FROM pa EXCEPT ALL SELECT * FROM za))").fetchone()[0]
        sdiff = con.execute("SELECT (SELECT count(*) FROM (SELECT * FROM zs EXCEPT ALL SELECT * FROM ps)) + "
                            "(SELECT count(*) FROM (SELECT * FROM ps EXCEPT ALL SELECT * FROM zs))").fetchone()[0]
        return diff, sdiff
    finally:
        con.close()


def run_peers(db: Path, identity: Path, result: dict) -> None:
    for name in PEERS:
        out = str(db) + f".{name}"
        res = subprocess.run([sys.executable, __file__, "--peer", name, str(db), str(identity), out],
                             capture_output=True, text=True, env={**os.environ})
        if res.returncode:
            raise SystemExit(res.stderr)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        diff, sdiff = same_rows(db, out)
        assert diff == 0 and sdiff == 0, f"{name}: {diff} attribution rows, {sdiff} silent failures differ from zsaudit's"
        result[f"{name}_s"] = r["seconds"]
        result[f"{name}_cpu_s"] = r["cpu_s"]
        for suffix in (".attr.parquet", ".silent.parquet"):
            Path(out + suffix).unlink(missing_ok=True)
    fastest = min(PEERS, key=lambda n: result[f"{n}_s"])
    result["fastest_peer"] = fastest
    result["zsaudit_over_fastest"] = round(result["analyze_s"] / result[f"{fastest}_s"], 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M,3M,10M", help="comma-separated request counts, e.g. 200k,1M")
    ap.add_argument("--child", nargs=2, metavar=("DB", "IDENTITY"), help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="keep the generated databases")
    ap.add_argument("--no-peers", action="store_true", help="do not run bench/peers/")
    ap.add_argument("--peer", nargs=4, metavar=("NAME", "DB", "IDENTITY", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.peer:
        peer_child(*args.peer)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="zsaudit-bench-") as tmp:
        identity = Path(tmp) / "identity.toml"
        identity.write_text(IDENTITY)
        for size in [parse_size(s) for s in args.sizes.split(",")]:
            db = Path(tmp) / f"bench_{size}.duckdb"
            counts = generate(db, size)
            out = subprocess.run([sys.executable, __file__, "--child", str(db), str(identity)],
                                 capture_output=True, text=True, check=True, env={**os.environ})
            result = {**counts, **json.loads(out.stdout.strip().splitlines()[-1])}
            if not args.no_peers:
                run_peers(db, identity, result)
            rows.append(result)
            print(json.dumps(result), flush=True)
            if not args.keep:
                db.unlink()
    print("\n| web requests | attempts | analyze wall (s) | CPU (s) | load avg | peak RSS (GB) | attributed | "
          "unattributed | findings |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['web_requests']:,} | {r['attempts']:,} | {r['analyze_s']} | {r['cpu_s']} | {r['load_avg']} | "
              f"{r['peak_rss_gb']} | "
              f"{r['attributed']:,} | {r['unattributed']:,} | {sum(r['findings'].values()):,} |")
    if not args.no_peers:
        print("\n| web requests | zsaudit analyze s (CPU s) | " + " | ".join(f"{n} s (CPU s)" for n in PEERS)
              + " | zsaudit / fastest peer, wall (CPU) | load avg |")
        print("|---:|---:|" + "---:|" * len(PEERS) + "---:|---:|")
        for r in rows:
            fastest = r["fastest_peer"]
            print(f"| {r['web_requests']:,} | {r['analyze_s']} ({r['cpu_s']}) | "
                  + " | ".join(f"{r[f'{n}_s']} ({r[f'{n}_cpu_s']})" for n in PEERS)
                  + f" | {r['zsaudit_over_fastest']}x ({r['cpu_s'] / r[f'{fastest}_cpu_s']:.2f}x), {fastest} | "
                  f"{r['load_avg']} |")


if __name__ == "__main__":
    main()
