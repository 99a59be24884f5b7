"""Benchmark: pull N task attempts with their logs from a real Airflow 3 API server.

    .venv/bin/python bench/airflow_api.py [--attempts 10000] [--real 100] [--workers 4,8]

Starts Airflow 3 on 127.0.0.1 the way `make test-airflow` does (tests/airflow_harness.py; venv
$ZSAUDIT_AIRFLOW_VENV, default .venv-airflow), runs fixtures/airflow_dags/zsaudit_bench_dag.py once
with --real mapped task instances (20 log lines each). Running 10k real tasks takes hours on a
small machine (~1 s of executor time each), so the run is then widened to --attempts: each real
`work` instance is copied, in Airflow's own metadata DB and log folder, to further map indexes
(row for row, log file for log file, only the id and map index changed), while the API server
runs. Everything the pull touches is Airflow's: its REST API lists them, pages them and serves
each log from the log folder, as for tasks that ran.

Then `zsaudit ingest airflow URL` runs in a fresh process, cold (every try listed, every log
fetched and ingested) once per --workers value (ZSAUDIT_AIRFLOW_API_WORKERS; a new store and
mirror each time), and warm once (a re-run: only the paged listing; finished logs are not
fetched again). Prints attempts/s, HTTP requests, the peak RSS of the ingest process and the load
average before and after each pull. Airflow is stopped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from airflow_harness import AirflowServer, ensure_airflow_venv  # noqa: E402

DAG_ID, RUN_ID, TASK_ID = "zsaudit_bench", "bench", "work"


def ingest(api: str, db: Path, env: dict) -> tuple[float, str]:
    today = datetime.now(timezone.utc).date()
    cmd = [sys.executable, "-c", _MEASURED, "ingest", "airflow", api, "--db", str(db),
           "--since", (today - timedelta(days=2)).isoformat(), "--until", (today + timedelta(days=1)).isoformat()]
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"ingest failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return time.perf_counter() - started, out.stdout + out.stderr


# the zsaudit CLI in a fresh process that reports its own peak RSS (Airflow's processes are not counted)
_MEASURED = """
import resource, sys
from zsaudit.cli import main
try:
    main(sys.argv[1:])
finally:
    print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _rss_mb(output: str) -> int:
    return max(int(l.split()[1]) for l in output.splitlines() if l.startswith("PEAK_RSS_KB")) // 1024


def widen(server: AirflowServer, total: int) -> int:
    """Copy the run's finished `work` instances (metadata row + log file) to map indexes up to
    `total` - 1. Returns how many instances of `work` the run then has."""
    con = sqlite3.connect(server.db_path, timeout=60)
    cols = [r[1] for r in con.execute("PRAGMA table_info(task_instance)")]
    real = con.execute(f"SELECT {', '.join(cols)} FROM task_instance WHERE dag_id = ? AND run_id = ? "
                       "AND task_id = ? AND state = 'success' ORDER BY map_index", (DAG_ID, RUN_ID, TASK_ID)).fetchall()
    have = con.execute("SELECT count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?",
                       (DAG_ID, RUN_ID, TASK_ID)).fetchone()[0]
    logs = server.logs_dir / f"dag_id={DAG_ID}" / f"run_id={RUN_ID}" / f"task_id={TASK_ID}"
    i_id, i_mi = cols.index("id"), cols.index("map_index")
    rows = []
    for mi in range(have, total):
        row = list(real[mi % len(real)])
        src = logs / f"map_index={row[i_mi]}" / "attempt=1.log"
        row[i_id], row[i_mi] = uuid.uuid4().hex, mi
        rows.append(row)
        (logs / f"map_index={mi}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, logs / f"map_index={mi}" / "attempt=1.log")
    with con:
        con.executemany(f"INSERT INTO task_instance ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
    n = con.execute("SELECT count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?",
                    (DAG_ID, RUN_ID, TASK_ID)).fetchone()[0]
    con.close()
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--attempts", type=int, default=10_000, help="attempts of `work` to pull (default 10000)")
    ap.add_argument("--real", type=int, default=100, help="of which really run by Airflow (default 100)")
    ap.add_argument("--workers", default="4", help="ZSAUDIT_AIRFLOW_API_WORKERS values to pull with, e.g. 1,4,8")
    args = ap.parse_args()
    venv = ensure_airflow_venv()
    result: dict = {"load_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="zsaudit-bench-api-") as tmp:
        work = Path(tmp)
        server = AirflowServer(venv, work / "airflow_home", dags=[ROOT / "fixtures" / "airflow_dags" / "zsaudit_bench_dag.py"],
                               extra_env={"AIRFLOW__CORE__PARALLELISM": "8"})
        with server:
            server.wait_for_dag(DAG_ID)
            t0 = time.perf_counter()
            server.trigger(DAG_ID, RUN_ID, logical_date=datetime.now(timezone.utc).isoformat(), conf={"n": args.real})
            result["run_state"] = server.wait_for_run(DAG_ID, RUN_ID, timeout=3600)
            result["airflow_run_s"] = round(time.perf_counter() - t0, 1)
            result["work_instances"] = widen(server, args.attempts)
            env = {**os.environ, "ZSAUDIT_AIRFLOW_USER": "admin", "ZSAUDIT_AIRFLOW_PASSWORD": "zsaudit-test",
                   "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
            pulls = []
            for workers in [int(w) for w in args.workers.split(",")]:
                db = work / f"bench-w{workers}.duckdb"
                load_before = os.getloadavg()
                cold, out = ingest(server.api, db, {**env, "ZSAUDIT_AIRFLOW_API_WORKERS": str(workers)})
                import duckdb

                with duckdb.connect(str(db), read_only=True) as con:
                    attempts = con.execute("SELECT count(*) FROM task_attempts").fetchone()[0]
                    lines = con.execute("SELECT count(*) FROM airflow_log_lines").fetchone()[0]
                    hints = con.execute("SELECT count(*) FROM task_egress_hints").fetchone()[0]
                pulls.append({"workers": workers, "cold_s": round(cold, 1), "attempts": attempts,
                              "attempts_per_s": round(attempts / cold, 1), "log_lines": lines, "egress_hints": hints,
                              "peak_rss_mb": _rss_mb(out), "load_before": load_before, "load_after": os.getloadavg(),
                              "summary": [l for l in out.splitlines() if "attempts," in l or "requests" in l]})
                print(json.dumps(pulls[-1]), flush=True)
            warm, out_warm = ingest(server.api, db, env)
            result.update(pulls=pulls, warm_s=round(warm, 1), warm_peak_rss_mb=_rss_mb(out_warm),
                          warm_summary=[l for l in out_warm.splitlines() if "attempts," in l])
    result["load_end"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
