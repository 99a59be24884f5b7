"""Benchmark: ingest a synthetic Airflow task-log tree (default 100k attempts, ~50 lines each).

    .venv/bin/python bench/ingest_airflow.py [--attempts 100000] [--lines 50] [--json-share 0.5]

Writes the tree once under $TMPDIR/zsaudit-bench-airflow-<attempts>-<lines>/ (reused on later
runs), then runs `ingest_paths` on it in a fresh process and prints attempts/s, lines/s and
the peak RSS of that process. Floor (issue 4): 100k attempts in < 60 s, RSS < 1 GB.
Half the attempts are Airflow 2.x text logs (with a traceback on failures), half Airflow 3
JSON lines, in the default 2.3+/3.x path layout; one in ten is mapped, one in eight retried.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _v2_lines(rng, dag, run, task, try_number, map_index, start, n):
    t = start
    out = []

    def line(level, src, msg):
        nonlocal t
        t += timedelta(milliseconds=rng.randint(1, 40))
        out.append(f"[{t.strftime('%Y-%m-%dT%H:%M:%S.')}{t.microsecond // 1000:03d}+0000] {{{src}}} {level} - {msg}")

    mi = f" map_index={map_index}" if map_index >= 0 else ""
    line("INFO", "local_task_job_runner.py:123", "::group::Pre task execution logs")
    line("INFO", "taskinstance.py:2867", f"Starting attempt {try_number} of 3")
    line("INFO", "taskinstance.py:2890", f"Executing <Task(PythonOperator): {task}> on {start:%Y-%m-%d %H:%M:%S+00:00}")
    line("INFO", "task_command.py:467", f"Running <TaskInstance: {dag}.{task} {run}{mi} [running]> on host worker-{rng.randint(1, 8)}")
    line("INFO", "base.py:84", f"Retrieving connection 'api_{rng.randint(1, 20)}'")
    fail = rng.random() < 0.1
    while len(out) < n - (22 if fail else 4):
        r = rng.random()
        if r < 0.15:
            line("INFO", "client.py:77", f"GET https://api{rng.randint(1, 50)}.example.com/v1/items?page={rng.randint(1, 99)} -> 200")
        elif r < 0.2:
            line("INFO", "db.py:12", f"connected to db{rng.randint(1, 5)}.internal.example:5432")
        else:
            line("INFO", "etl.py:42", f"processed batch {len(out)} rows={rng.randint(1, 10000)} elapsed={rng.random():.3f}s")
    if fail:
        line("ERROR", "taskinstance.py:3313", "Task failed with exception")
        out.append("Traceback (most recent call last):")
        for i in range(8):
            out.append(f'  File "/opt/airflow/dags/etl.py", line {i * 10 + 3}, in step_{i}')
            out.append(f"    result = step_{i + 1}(data)")
        out.append("ValueError: upstream returned 500")
        line("INFO", "taskinstance.py:1226", f"Marking task as UP_FOR_RETRY. dag_id={dag}, task_id={task}, run_id={run}")
        line("INFO", "local_task_job_runner.py:266", "Task exited with return code 1")
    else:
        line("INFO", "taskinstance.py:353", f"Marking task as SUCCESS. dag_id={dag}, task_id={task}, run_id={run}")
        line("INFO", "local_task_job_runner.py:266", "Task exited with return code 0")
        line("INFO", "local_task_job_runner.py:245", "::endgroup::")
    return "\n".join(out) + "\n"


def _v3_lines(rng, dag, run, task, try_number, map_index, start, n):
    t = start
    ident = {"dag_id": dag, "run_id": run, "task_id": task, "try_number": try_number, "map_index": map_index,
             "ti_id": "01a21307-%04x-7%03x-8%03x-%012x" % (rng.getrandbits(16), rng.getrandbits(12),
                                                          rng.getrandbits(12), rng.getrandbits(48))}
    out = []

    def rec(event, level="info", logger="task", **kw):
        nonlocal t
        t += timedelta(milliseconds=rng.randint(1, 40))
        d = {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "level": level, "event": event, **ident,
             "logger": logger, "filename": "task_runner.py", "lineno": 1000, **kw}
        keys = list(d)
        rng.shuffle(keys)
        out.append(json.dumps({k: d[k] for k in keys}, separators=(",", ":")))

    out.append(json.dumps({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "level": "info",
                           "event": "::group::Pre Execute", "logger": "task"}, separators=(",", ":")))
    fail = rng.random() < 0.1
    while len(out) < n - 3:
        r = rng.random()
        if r < 0.15:
            rec(f"fetched https://api{rng.randint(1, 50)}.example.com/v1/items?page={rng.randint(1, 99)} status 200",
                logger="task.stdout")
        else:
            rec(f"processed batch {len(out)} rows={rng.randint(1, 10000)}", logger="unusual_prefix_etl")
    if fail:
        rec("Task failed with exception", level="error",
            error_detail=[{"exc_type": "ValueError", "exc_value": "upstream returned 500", "frames": []}])
    rec("::group::Post Execute")
    rec("::endgroup::")
    return "\n".join(out) + "\n"


def build_tree(root: Path, attempts: int, lines: int, json_share: float, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    made = 0
    run_no = 0
    while made < attempts:
        run_no += 1
        dag = f"etl_{run_no % 37}"
        run = f"scheduled__{(start + timedelta(minutes=run_no)).isoformat()}"
        for task_no in range(20):
            if made >= attempts:
                break
            task = f"task_{task_no}"
            mapped = task_no == 7
            tries = 2 if rng.random() < 0.125 else 1
            for map_index in (range(3) if mapped else [-1]):
                for try_number in range(1, tries + 1):
                    if made >= attempts:
                        break
                    rel = f"dag_id={dag}/run_id={run}/task_id={task}/"
                    if map_index >= 0:
                        rel += f"map_index={map_index}/"
                    p = root / rel / f"attempt={try_number}.log"
                    p.parent.mkdir(parents=True, exist_ok=True)
                    t0 = start + timedelta(minutes=run_no, seconds=task_no * 5 + try_number)
                    gen = _v3_lines if rng.random() < json_share else _v2_lines
                    p.write_text(gen(rng, dag, run, task, try_number, map_index, t0, lines))
                    made += 1


def run_ingest(tree: Path, db: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from zsaudit.ingest.airflow import ingest_paths
    from zsaudit.store import Store

    t0 = time.perf_counter()
    with Store(db) as store:
        results = ingest_paths(store, [tree])
        attempts = store.con.execute("SELECT count(*) FROM task_attempts").fetchall()[0][0]
        lines = store.con.execute("SELECT count(*) FROM airflow_log_lines").fetchall()[0][0]
        hints = store.con.execute("SELECT count(*) FROM task_egress_hints").fetchall()[0][0]
    elapsed = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = usage.ru_maxrss / 1024
    print(json.dumps({"files": len(results), "attempts": attempts, "lines": lines, "egress_hints": hints,
                      "seconds": round(elapsed, 2), "attempts_per_s": round(attempts / elapsed),
                      "lines_per_s": round(lines / elapsed), "peak_rss_mb": round(rss_mb),
                      "cpu_user_s": round(usage.ru_utime, 1), "cpu_sys_s": round(usage.ru_stime, 1),
                      "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attempts", type=int, default=100_000)
    ap.add_argument("--lines", type=int, default=50)
    ap.add_argument("--json-share", type=float, default=0.5)
    ap.add_argument("--ingest-only", metavar="TREE", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ingest_only:
        run_ingest(Path(args.ingest_only), Path(args.db))
        return
    tree = Path(tempfile.gettempdir()) / f"zsaudit-bench-airflow-{args.attempts}-{args.lines}" / "logs"
    if not (tree.parent / "complete").exists():
        t0 = time.perf_counter()
        build_tree(tree, args.attempts, args.lines, args.json_share)
        (tree.parent / "complete").write_text("ok\n")
        print(f"built {args.attempts} attempt logs in {time.perf_counter() - t0:.1f}s under {tree}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        # a fresh process, so its peak RSS is the ingest's alone
        subprocess.run([sys.executable, __file__, "--ingest-only", str(tree), "--db", str(db)], check=True)


if __name__ == "__main__":
    main()
