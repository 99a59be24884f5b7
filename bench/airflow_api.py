"""Benchmark: pull N task attempts with their logs from a real Airflow 3 API server.

    .venv/bin/python bench/airflow_api.py [--attempts 200]

Starts Airflow 3 on 127.0.0.1 the way `make test-airflow` does (tests/airflow_harness.py; venv
$ZSAUDIT_AIRFLOW_VENV, default .venv-airflow), runs fixtures/airflow_dags/zsaudit_bench_dag.py once
with N mapped task instances (20 log lines each), then times `zsaudit ingest airflow URL` in a
fresh process twice: cold (every try listed, every log fetched and ingested) and warm (a re-run:
only the paged listing; finished logs are not fetched again). Prints attempts/s, HTTP requests and
the peak RSS of the ingest process. Airflow is stopped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from airflow_harness import AirflowServer, ensure_airflow_venv  # noqa: E402


def ingest(api: str, db: Path, env: dict) -> tuple[float, str]:
    today = datetime.now(timezone.utc).date()
    cmd = [sys.executable, "-c", _MEASURED, "ingest", "airflow", api, "--db", str(db),
           "--since", (today - timedelta(days=1)).isoformat(), "--until", (today + timedelta(days=1)).isoformat()]
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--attempts", type=int, default=200)
    args = ap.parse_args()
    venv = ensure_airflow_venv()
    with tempfile.TemporaryDirectory(prefix="zsaudit-bench-api-") as tmp:
        work = Path(tmp)
        server = AirflowServer(venv, work / "airflow_home", dags=[ROOT / "fixtures" / "airflow_dags" / "zsaudit_bench_dag.py"],
                               extra_env={"AIRFLOW__CORE__PARALLELISM": "8"})
        with server:
            server.wait_for_dag("zsaudit_bench")
            t0 = time.perf_counter()
            server.trigger("zsaudit_bench", "bench", logical_date=datetime.now(timezone.utc).isoformat(),
                           conf={"n": args.attempts})
            state = server.wait_for_run("zsaudit_bench", "bench", timeout=3600)
            ran = time.perf_counter() - t0
            env = {**os.environ, "ZSAUDIT_AIRFLOW_USER": "admin", "ZSAUDIT_AIRFLOW_PASSWORD": "zsaudit-test",
                   "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
            db = work / "bench.duckdb"
            cold, out_cold = ingest(server.api, db, env)
            warm, out_warm = ingest(server.api, db, env)
        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        attempts = con.execute("SELECT count(*) FROM task_attempts WHERE dag_id = 'zsaudit_bench'").fetchone()[0]
        lines = con.execute("SELECT count(*) FROM airflow_log_lines").fetchone()[0]
        hints = con.execute("SELECT count(*) FROM task_egress_hints").fetchone()[0]
    result = {
        "attempts_requested": args.attempts + 1, "run_state": state, "airflow_run_s": round(ran, 1),
        "attempts_ingested": attempts, "log_lines": lines, "egress_hints": hints,
        "cold_s": round(cold, 2), "cold_attempts_per_s": round(attempts / cold, 1),
        "warm_s": round(warm, 2), "peak_rss_mb": max(_rss_mb(out_cold), _rss_mb(out_warm)),
        "cold_summary": [l for l in out_cold.splitlines() if "attempts," in l],
        "warm_summary": [l for l in out_warm.splitlines() if "attempts," in l],
        "load": os.getloadavg(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
