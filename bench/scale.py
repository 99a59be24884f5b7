"""Benchmark: the analysis of one night on a local Spark cluster with 1 and with 2 workers (1 core
each), beside the single-machine DuckDB engine on the same night.

Not a test. The night is bench/analyze.py's (100 workers, ~50 requests per attempt, generated
straight into a store), written to a lake as 24 hourly units of Zscaler parts plus one Airflow
unit, as `zsaudit run --engine spark` would have ingested it. Each engine analyzes the same store
(analyze.analysis.analyze; the Spark one with zsaudit.spark.analyze.Correlator), and the bench checks
that both write the same attributions and findings. Needs Java 17 and the spark extra.

    .venv/bin/python bench/scale.py                     # 10M requests
    .venv/bin/python bench/scale.py --requests 1M       # quick
    .venv/bin/python bench/scale.py --ingest none       # the analysis only

With each cluster size it also times a real Spark ingest (zsaudit.spark.ingest, the job of
`zsaudit run --engine spark`, then the lake's units loaded into a new store: serial) of 24 hourly
NSS files with as many ZIA records as the night has web requests (bench/ingest_night.py's files,
cached in bench/data/; not the analysis night's own records), and prints the speed-up with and
without it. Target (issue 17): 2 workers >= 1.7x the speed of 1 worker. Record `uptime` beside
the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from analyze import IDENTITY, generate, parse_size  # noqa: E402  (bench/analyze.py's night)

REQUEST_TABLES = ("zia_web", "zpa_user_activity", "zpa_user_status")
AIRFLOW_TABLES = ("task_attempts", "task_connections", "task_egress_hints", "airflow_log_lines")


def write_lake(db: Path, lake_root: Path) -> int:
    """The store's rows as lake units: one per hour of Zscaler records, one for Airflow."""
    import duckdb

    with duckdb.connect(str(db)) as con:
        units = 0
        for hour in range(24):
            unit = f"h{hour:02d}"
            for table in REQUEST_TABLES:
                rel = con.table(table).filter(f"hour(event_time AT TIME ZONE 'UTC') = {hour}")
                folder = lake_root / table / "source=zscaler" / "day=2026-11-24"
                folder.mkdir(parents=True, exist_ok=True)
                if rel.limit(1).fetchall():
                    rel.write_parquet(str(folder / f"part-{unit}-0.parquet"))
            units += 1
            _ledger(con, lake_root, "zscaler", unit)
        for table in AIRFLOW_TABLES:
            folder = lake_root / table / "source=airflow" / "day=2026-11-24"
            folder.mkdir(parents=True, exist_ok=True)
            if con.table(table).limit(1).fetchall():
                con.table(table).write_parquet(str(folder / "part-airflow-0.parquet"))
        _ledger(con, lake_root, "airflow", "airflow")
    return units + 1


def _ledger(con, lake_root: Path, source: str, unit: str) -> None:
    folder = lake_root / "ingest_ledger" / f"source={source}"
    folder.mkdir(parents=True, exist_ok=True)
    con.sql("SELECT 'bench-' || ? AS file_id", params=[unit]).write_parquet(str(folder / f"part-{unit}-0.parquet"))


def fresh_copy(db: Path, name: str) -> Path:
    """A copy of the night's store for one engine's analysis (outside the timings)."""
    import shutil

    copy = db.with_name(f"{db.stem}-{name}.duckdb")
    shutil.copyfile(db, copy)
    return copy


def snapshot(store) -> tuple[int, int]:
    con = store.con
    a = con.execute("SELECT count(*), sum(hash(request_rid, attempt_id, status, method, confidence, candidates)) "
                    "FROM attributions").fetchone()
    f = con.execute("SELECT count(*), sum(hash(finding_id, severity, status, evidence_count)) FROM findings").fetchone()
    return (int(a[0]), int(a[1] or 0), int(f[0]), int(f[1] or 0))


class Clock:
    """A progress sink that times analyze's steps: each logged step lasts until the next one."""

    def __init__(self):
        self.marks: list[tuple[float, str]] = []
        self.cpu_marks: list[float] = []

    def log(self, message: str) -> None:
        self.marks.append((time.perf_counter(), message.removeprefix("analyze: ")))
        self.cpu_marks.append(time.process_time())

    def rules_cpu(self, end_cpu: float) -> float:
        """CPU seconds of this process (DuckDB's threads included) from the first rule's mark on."""
        from zsaudit.analyze.analysis import RUN_ORDER

        first = next((c for (_, m), c in zip(self.marks, self.cpu_marks) if m in RUN_ORDER), end_cpu)
        return round(end_cpu - first, 1)

    def rules(self, end: float) -> dict:
        """Seconds of each finding rule's group stage, of the not-evaluable checks, and of
        finalizing (the findings written, the counts, the analysis' row and the commit: until
        `end`), from the first rule's mark on."""
        from zsaudit.analyze.analysis import RUN_ORDER

        marks = self.marks + [(end, "end")]
        first = next((i for i, (_, m) in enumerate(marks) if m in RUN_ORDER), len(marks) - 1)
        out = {m: round(marks[i + 1][0] - t, 2) for i, (t, m) in enumerate(marks[:-1]) if i >= first}
        first = marks[first][0]
        out["rules_total"] = round(end - first, 1)
        return out


def run_single(db: Path, identity: Path) -> dict:
    from zsaudit.analyze.analysis import analyze
    from zsaudit.store import Store

    with Store(db) as store:
        t0 = time.perf_counter()
        s = analyze(store, identity, since="2026-11-24", until="2026-11-25")
        wall = time.perf_counter() - t0
        return {"engine": "duckdb, this machine (2 threads)", "wall_s": round(wall, 1),
                "requests": s.worker_requests, "check": snapshot(store)}


def time_ingest(spark, files: list[str], work: Path) -> dict:
    """The Spark ingest job over `files` into a fresh lake, then the lake into a fresh store."""
    from zsaudit.config import Config
    from zsaudit.lake import Lake
    from zsaudit.spark import ingest as spark_ingest
    from zsaudit.store import Store

    work.mkdir(parents=True, exist_ok=True)
    lake = Lake.at(work / "ingest-lake")
    config = Config(path=work / "zsaudit.toml", db=work / "ingest.duckdb", identity_map=work / "identity.toml",
                    pack_dir=work / "packs")   # only its [zscaler] defaults are read
    t0 = time.perf_counter()
    tasks: list = []
    try:
        done = spark_ingest.ingest(spark, lake, config, files, [], tasks_out=tasks)
    except TypeError:       # a zsaudit before the tasks' timings (an A/B against an older commit)
        done = spark_ingest.ingest(spark, lake, config, files, [])
    t1 = time.perf_counter()
    with Store(work / "ingest.duckdb") as store:
        lake.load_into(store)
        rows = store.con.execute("SELECT count(*) FROM zia_web").fetchone()[0]
    t2 = time.perf_counter()
    loaded = sum(r.rows_loaded for r in done["zscaler"][0])
    assert rows == loaded, (rows, loaded)
    # per task: CPU seconds (the task's Python process, every thread) and wall seconds; CPU / wall
    # over 1 says a 1-cpu task kept more than its core busy
    cpu, wall = sum(c for _, c, _ in tasks), sum(w for _, _, w in tasks)   # 0 for an older zsaudit
    return {"records": rows, "job_s": round(t1 - t0, 1), "store_load_s": round(t2 - t1, 1),
            "ingest_s": round(t2 - t0, 1), "task_cpu_s": round(cpu, 1), "task_wall_s": round(wall, 1),
            "task_cpu_per_wall": round(cpu / wall, 2) if wall else None}


def _warm(_) -> int:
    import zsaudit.spark.analyze  # noqa: F401  (DuckDB, Arrow and the queries' runner with it)

    return 1


def run_spark(db: Path, identity: Path, lake_root: Path, workers: int, work: Path,
              ingest_files: list[str] | None = None) -> dict:
    from spark_harness import SparkCluster
    from zsaudit.analyze.analysis import analyze
    from zsaudit.lake import Lake
    from zsaudit.spark.analyze import Correlator
    from zsaudit.spark.session import session
    from zsaudit.store import Store

    cluster = SparkCluster(work / f"cluster-{workers}", workers=workers, cores=1, memory="4g").start()
    try:
        with session(cluster.url) as spark, Store(db) as store:
            # executors up before timing, their Python with zsaudit's task modules imported (as
            # after `zsaudit run`'s ingest job): job 1 otherwise starts with each executor's imports
            spark.parallelize(range(workers), workers).map(_warm).count()
            ingest = time_ingest(spark, ingest_files, work / f"ingest-{workers}") if ingest_files else None
            correlator = Correlator(spark, Lake.at(lake_root))
            clock = Clock()
            t0 = time.perf_counter()
            s = analyze(store, identity, since="2026-11-24", until="2026-11-25", correlator=correlator,
                        progress=clock)
            end, end_cpu = time.perf_counter(), time.process_time()
            rules = clock.rules(end)
            cpu = {k: round(v, 1) for k, v in correlator.cpu.items()}
            steps = correlator.timings
            # the driver's serial parts: the rules' setup and the attempt side before job 1 (an older
            # zsaudit timed its attempt side inside the store step, after job 2), the store step
            # after job 2, the rules' group stages and finalizing
            before = steps["rule_setup"] + (steps["attempt_side"] if "attempt_side" in correlator.cpu else 0.0)
            cpu["rules"] = round(clock.rules_cpu(end_cpu) + cpu.pop("rule_setup", 0.0), 1)
            cpu["store"] = round(cpu["store"] + cpu.pop("attempt_side", 0.0), 1)
            serial = before + steps["store"] + rules["rules_total"]
            return {"engine": f"spark, {workers} worker(s) x 1 core", "wall_s": round(end - t0, 1),
                    "requests": s.worker_requests, "steps_s": {k: round(v, 2) for k, v in steps.items()},
                    "rules_s": rules, "cpu_s": cpu, "serial_s": round(serial, 1),
                    "task_cpu_s": {job: {k: round(v, 2) for k, v in by_step.items()}
                                   for job, by_step in getattr(correlator, "task_cpu", {}).items()},
                    "jobs": {job: job_spans(*spans) for job, spans in getattr(correlator, "spans", {}).items()},
                    "distributed_s": round(steps["requests"] + steps["attribute"], 1), "ingest": ingest,
                    "check": snapshot(store)}
    finally:
        cluster.stop()


def job_spans(start: float, end: float, spans: list[tuple[int, float, float]]) -> dict:
    """A job's wall seconds, its tasks, and per executor (its Python daemon): the seconds its
    tasks ran, before its first task started, and idle at the end while another executor ran."""
    execs: dict[int, list[tuple[float, float]]] = {}
    for ex, t0, t1 in spans:
        execs.setdefault(ex, []).append((t0, t1))
    return {"wall_s": round(end - start, 2), "tasks": len(spans),
            "executors": [{"tasks": len(v), "busy_s": round(sum(t1 - t0 for t0, t1 in v), 2),
                           "start_gap_s": round(min(t0 for t0, _ in v) - start, 2),
                           "tail_idle_s": round(end - max(t1 for _, t1 in v), 2)}
                          for v in execs.values()]}


def _probe_work(_=None) -> float:
    """A fixed single-threaded DuckDB workload like a task's (hash join, aggregate, sort over a
    few million rows): its CPU seconds."""
    import duckdb

    con = duckdb.connect(config={"threads": 1})
    con.execute("SET enable_progress_bar = false")
    cpu = time.process_time()
    con.execute("SELECT count(*), sum(hash(k, n)) FROM (SELECT a.k, count(*) AS n FROM "
                "(SELECT i % 200003 AS k, i FROM range(10000000) t(i)) a JOIN "
                "(SELECT i AS k, i * 7 AS v FROM range(200003) t(i)) b USING (k) "
                "GROUP BY a.k ORDER BY n DESC, a.k)").fetchall()
    return time.process_time() - cpu


def core_probe(rounds: int = 3) -> dict:
    """The same workload alone, then as two processes at once (as two 1-core executors run their
    tasks): the CPU seconds one copy takes each way. Above 1, two busy cores of this machine do
    less per CPU-second than one (shared cache and memory bandwidth, or vCPUs that are one
    physical core's two threads), which no change to zsaudit can remove."""
    from multiprocessing import get_context

    ctx = get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_probe_work, range(2))                     # warm both processes
        alone = [pool.apply(_probe_work) for _ in range(rounds)]
        paired = [c for _ in range(rounds) for c in pool.map(_probe_work, range(2))]
    a, b = sorted(alone)[len(alone) // 2], sorted(paired)[len(paired) // 2]   # medians
    return {"alone_cpu_s": round(a, 3), "two_at_once_cpu_s": round(b, 3), "ratio": round(b / a, 2),
            "load_avg": [round(x, 1) for x in os.getloadavg()]}


def run_ingest_only(workers: int, work: Path, ingest_files: list[str]) -> dict:
    """The Spark ingest alone on a cluster of `workers` 1-core workers (--ingest-only)."""
    from spark_harness import SparkCluster
    from zsaudit.spark.session import session

    cluster = SparkCluster(work / f"cluster-{workers}", workers=workers, cores=1, memory="4g").start()
    try:
        with session(cluster.url) as spark:
            spark.parallelize(range(workers), workers).count()   # executors up before timing
            return {"engine": f"spark, {workers} worker(s) x 1 core",
                    "ingest": time_ingest(spark, ingest_files, work / f"ingest-{workers}")}
    finally:
        cluster.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", default="10M", help="web requests in the night (default 10M)")
    ap.add_argument("--workers", default="1,2", help="cluster sizes to run (default 1,2)")
    ap.add_argument("--ingest-only", action="store_true",
                    help="time only the Spark ingest per cluster size (no analysis night)")
    ap.add_argument("--ingest", default="json",
                    help="NSS format of the files whose Spark ingest is timed too (default json; none: skip)")
    args = ap.parse_args()
    size = parse_size(args.requests)
    ingest_files = None
    if args.ingest != "none":
        from ingest_night import generate as night_files   # bench/ingest_night.py's 24 hourly files

        folder = night_files(args.ingest, -(-size // 24))
        ingest_files = sorted(str(p) for p in folder.iterdir() if p.is_file())
    if args.ingest_only:
        if not ingest_files:
            raise SystemExit("--ingest-only needs --ingest FORMAT")
        with tempfile.TemporaryDirectory(prefix="zsaudit-scale-") as tmp:
            runs = []
            for n in (int(w) for w in args.workers.split(",")):
                runs.append(run_ingest_only(n, Path(tmp), ingest_files))
                runs[-1]["load_avg"] = [round(x, 1) for x in os.getloadavg()]
                print(json.dumps(runs[-1]), flush=True)
        if len(runs) == 2:
            i1, i2 = runs[0]["ingest"], runs[1]["ingest"]
            print(f"ingest {i1['records']:,} records: job {i1['job_s']} -> {i2['job_s']} s "
                  f"({i1['job_s'] / i2['job_s']:.2f}x), with lake -> store {i1['ingest_s']} -> {i2['ingest_s']} s "
                  f"({i1['ingest_s'] / i2['ingest_s']:.2f}x); task CPU-s {i1['task_cpu_s']} / {i2['task_cpu_s']}, "
                  f"CPU / wall {i1['task_cpu_per_wall']} / {i2['task_cpu_per_wall']}")
        return
    with tempfile.TemporaryDirectory(prefix="zsaudit-scale-") as tmp:
        tmp = Path(tmp)
        identity = tmp / "identity.toml"
        identity.write_text(IDENTITY)
        db = tmp / "night.duckdb"
        counts = generate(db, size)
        units = write_lake(db, tmp / "lake")
        print(json.dumps({**counts, "lake_units": units, "load_avg": os.getloadavg()}), flush=True)
        probe = core_probe()
        print(json.dumps({"core_probe": probe}), flush=True)
        # each engine analyzes its own copy of the night's store: a first analysis of the night, as
        # `zsaudit run` does it, not a re-analysis that first deletes the previous engine's rows
        rows = [run_single(fresh_copy(db, "duckdb"), identity)]
        print(json.dumps(rows[-1]), flush=True)
        for n in (int(w) for w in args.workers.split(",")):
            rows.append(run_spark(fresh_copy(db, f"spark-{n}"), identity, tmp / "lake", n, tmp, ingest_files))
            rows[-1]["load_avg"] = round(os.getloadavg()[0], 1)
            print(json.dumps(rows[-1]), flush=True)
    same = len({json.dumps(r["check"]) for r in rows}) == 1
    print(f"\nsame attributions and findings on every engine: {same}")
    print("\n| engine | analyze wall (s) | worker requests/s | job 1 / job 2 / global (s) | load avg |")
    print("|---|---:|---:|---|---:|")
    for r in rows:
        steps = r.get("steps_s")
        split = f"{steps['requests']} / {steps['attribute']} / {steps['store']}" if steps else "-"
        print(f"| {r['engine']} | {r['wall_s']} | {r['requests'] / r['wall_s']:,.0f} | {split} | "
              f"{r.get('load_avg', '-')} |")
    print("\n| engine | serial: global + rules (s) | distributed: jobs 1 + 2 (s) | serial share | "
          "CPU-s driver (global + rules) | CPU-s tasks (jobs 1 + 2) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if r.get("steps_s"):
            c = r["cpu_s"]
            print(f"| {r['engine']} | {r['serial_s']} | {r['distributed_s']} | {r['serial_s'] / r['wall_s']:.0%} | "
                  f"{c['store'] + c['rules']:.1f} | {c['requests'] + c['attribute']:.1f} |")
    spark = [r for r in rows if r.get("steps_s")]
    one = next((r for r in spark if r["engine"].startswith("spark, 1 ")), None)
    if one:
        # Amdahl on free cores: the serial part stays, the distributed part halves with 2 workers
        cap = one["wall_s"] / (one["serial_s"] + one["distributed_s"] / 2 + (one["wall_s"] - one["serial_s"]
                                                                               - one["distributed_s"]))
        print(f"\nserial share of the 1-worker run: {one['serial_s'] / one['wall_s']:.0%}; "
              f"Amdahl cap for 2 workers on free cores: {cap:.2f}x")
    two = next((r for r in spark if r["engine"].startswith("spark, 2 ")), None)
    if one and two:
        print(f"speed-up 2 workers vs 1: {one['wall_s'] / two['wall_s']:.2f}x "
              f"(distributed part {one['distributed_s'] / two['distributed_s']:.2f}x)")
        print_breakdown(one, two, probe)
    if one and two and one.get("ingest") and two.get("ingest"):
        i1, i2 = one["ingest"], two["ingest"]
        print(f"\ningest of {i1['records']:,} records (24 NSS files, {args.ingest}): 1 worker {i1['ingest_s']} s "
              f"(job {i1['job_s']}, lake -> store {i1['store_load_s']}), 2 workers {i2['ingest_s']} s "
              f"(job {i2['job_s']}, lake -> store {i2['store_load_s']}): {i1['ingest_s'] / i2['ingest_s']:.2f}x "
              f"(job {i1['job_s'] / i2['job_s']:.2f}x)")
        for n, i in (("1 worker", i1), ("2 workers", i2)):
            print(f"  {n}: tasks {i['task_cpu_s']} CPU-s in {i['task_wall_s']} task-wall-s "
                  f"(CPU / wall {i['task_cpu_per_wall']})")
        print(f"night with ingest (ingest + analyze): 1 worker {i1['ingest_s'] + one['wall_s']:.1f} s, "
              f"2 workers {i2['ingest_s'] + two['wall_s']:.1f} s: "
              f"{(i1['ingest_s'] + one['wall_s']) / (i2['ingest_s'] + two['wall_s']):.2f}x; "
              f"without ingest {one['wall_s'] / two['wall_s']:.2f}x")


def print_breakdown(one: dict, two: dict, probe: dict) -> None:
    """Where the time of the 1- and 2-worker runs goes: the tasks' CPU by job and step (summed
    over the job's tasks), and the driver's serial seconds by part."""
    print("\n| job: step | tasks CPU-s, 1 worker | 2 workers | 2 / 1 |")
    print("|---|---:|---:|---:|")
    for job in one.get("task_cpu_s", {}):
        a, b = one["task_cpu_s"][job], two.get("task_cpu_s", {}).get(job, {})
        for step in list(a) + ["total"]:
            x = sum(a.values()) if step == "total" else a[step]
            y = sum(b.values()) if step == "total" else b.get(step, 0.0)
            print(f"| {job}: {step} | {x:.2f} | {y:.2f} | {y / x:.2f} |" if x else f"| {job}: {step} | 0 | {y:.2f} | - |")
    for n, r in (("1 worker", one), ("2 workers", two)):
        for job, j in r.get("jobs", {}).items():
            ex = "; ".join(f"{e['tasks']} tasks busy {e['busy_s']} s, first after {e['start_gap_s']} s, "
                           f"idle at the end {e['tail_idle_s']} s" for e in j["executors"])
            print(f"{n}, job {job}: {j['wall_s']} s, {j['tasks']} tasks; per executor: {ex}")
    print(f"\ncore probe (one fixed single-threaded DuckDB workload alone, then two at once): "
          f"{probe['alone_cpu_s']} -> {probe['two_at_once_cpu_s']} CPU-s a copy ({probe['ratio']}x; "
          f"load {probe['load_avg']}): above 1, two busy cores here do less per CPU-second than one")
    print("\n| serial part (driver) | 1 worker (s) | 2 workers (s) |")
    print("|---|---:|---:|")
    keys = ["rule_setup", "attempt_side", "store"]
    for k in keys:
        print(f"| {k} | {one['steps_s'].get(k, 0)} | {two['steps_s'].get(k, 0)} |")
    for k in one["rules_s"]:
        print(f"| rules: {k} | {one['rules_s'][k]} | {two['rules_s'].get(k, '-')} |")
    print(f"| serial in all | {one['serial_s']} | {two['serial_s']} |")


if __name__ == "__main__":
    main()
