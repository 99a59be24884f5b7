"""Analysis as Spark jobs: queries/correlate/ per partition inside Spark tasks, rules once.

The partition key is correlate's own `pk` (queries/correlate/04_requests.sql): the worker a
request came from, or, for a service-account login on an unknown worker, that login. A request
only ever attributes to attempts running in its own partition, so steps 05..09 (the interval
join) run on each partition alone and give the rows the whole would.

  before job 1, on the driver: the attempt side (steps 01..03, small), once, written as Parquet
         that every task reads (the attempt and host ids are the driver's in every task);
  job 1, a task per chunk of request parts: step 04 over its chunk; its requests are written to
         the lake by pk (the shuffle, through the lake: no rows pass through the JVM);
  job 2, a task per group of pks: steps 05..09 over its partitions' requests,
         step 11 (their narrow attribution rows) and every finding rule's row stage over its _attr
         (queries.stages: the requests each rule groups, a few per thousand); the attribution rows
         and each rule's rows are written as one part each per group, the counts by status returned;
  global, in the store on the driver: before job 1, the rules' setup stages (small tables from the
         store: token_gap's session islands), handed to job 2's tasks as Parquet; after job 2,
         step 10 (the analysis' workers and attempts), the tasks' row parts kept in the lake and
         named in the store (its view `attributions` reads them: Lake.keep_attribution_parts), the
         counts the tasks returned, the tasks' rule rows read into the tables their row stages
         name, and each rule's group stage over them (analyze.analysis.analyze with this
         correlator): the rules' own files, as the single-machine engine runs them. The driver
         never reads a task's _attr.

Each task is DuckDB in-process over Parquet; its output files are named by its input, so a task
run again after a lost executor replaces its own files and nothing counts twice.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from .. import queries
from ..analyze import correlate
from ..analyze.analysis import RUN_ORDER
from ..identity_map import IdentityMap
from ..lake import Lake, attach_parts, day_range
from ..store import Store
from .session import parallelism

# what steps 01..03 read (the attempt side), and 04 (the requests)
ATTEMPT_TABLES = ("task_attempts", "airflow_log_lines", "task_connections", "task_egress_hints")
REQUEST_TABLES = ("zia_web", "zpa_user_activity")
# the attempt side (steps 01..03: attempts, their logins and hosts), computed once on the driver
# and read by every task from Parquet
ATTEMPT_SIDE = tuple(t for step in correlate.ATTEMPT_STEPS
                     for t in queries.header(step).creates + queries.header(step).hands_on)
# a job 2 task's request numbers (rn) start at its group << RN_BITS: unique over the whole _attr
RN_BITS = 40
# the finding rules split into stages (queries.stages): setup on the driver, rows in job 2's tasks
STAGED_RULES = tuple(f"findings/{k}" for k in RUN_ORDER if queries.stages(f"findings/{k}")["rows"])


def rule_tables(stage: str) -> list[str]:
    """The temp tables the staged rules' `stage` creates, in run order."""
    return [t for name in STAGED_RULES for t in queries.stage_tables(name, stage)]


def run_rule_stage(con, stage: str, params: dict) -> None:
    for name in STAGED_RULES:
        queries.run(con, name, params, stage=stage)


class _StepCPU:
    """CPU seconds of a task's steps (this process, DuckDB's threads included), by name: what
    the driver sums per job (Correlator.task_cpu) to show where a job's CPU goes; and when the
    task ran where (`span`: its executor's Python daemon, the epoch seconds it started and ended)."""

    def __init__(self):
        self.cpu: dict[str, float] = {}
        self._at = time.process_time()
        self.started = time.time()

    def span(self) -> tuple[int, float, float]:
        return os.getppid(), self.started, time.time()

    def mark(self, step: str) -> None:
        """The CPU since the previous mark (or the start) counts to `step`."""
        now = time.process_time()
        self.cpu[step] = self.cpu.get(step, 0.0) + now - self._at
        self._at = now


def _read_attempt_side(con, attempt_side: dict[str, str], steps: tuple[str, ...]) -> None:
    """The driver's attempt-side tables that `steps` read, from their Parquet files."""
    reads = {t for step in steps for t in queries.header(step).reads}
    for table, part in attempt_side.items():
        if table in reads:
            queries.run(con, "spark/attempt_table", {"parts": [part]}, idents={"table": table})


def _task_store(lake: Lake, attempt_parts: dict, request_parts: dict | None = None, dropped: dict | None = None
                ) -> Store:
    """An in-memory store whose ingest tables read the given lake parts (less the `dropped` rids
    of a table: records the store did not load, Lake.load_into); DuckDB uses the cores Spark gave
    the task (spark.task.cpus), not the whole machine."""
    from pyspark import TaskContext

    store = Store(":memory:")
    ctx = TaskContext.get()
    queries.apply_settings(store.con, threads=max(1, int(ctx.cpus()) if ctx else 1), preserve_insertion_order=False)
    lake.register(store.con)
    for table, parts in {**attempt_parts, **(request_parts or {})}.items():
        attach_parts(store.con, table, parts, (dropped or {}).get(table))
    return store


def _requests_task(args: tuple) -> tuple[list[tuple[int, int]], dict, tuple]:
    """Job 1: step 04 over one chunk of request parts, written to the lake by pk. Returns the
    requests per pk, the CPU seconds the task took by step (DuckDB's threads included) and its
    span (_StepCPU.span)."""
    chunk, lake_root, work, analysis_id, attempt_parts, attempt_side, request_parts, imap, since, until, dropped = args
    cpu = _StepCPU()
    lake = Lake.at(lake_root)
    with _task_store(lake, attempt_parts, request_parts, dropped) as store:
        con = store.con
        params = correlate.prepare(con, imap, since=since, until=until, analysis_id=analysis_id)
        cpu.mark("prepare")
        _read_attempt_side(con, attempt_side, correlate.REQUEST_STEPS)
        cpu.mark("attempt_side")
        correlate.run_steps(con, correlate.REQUEST_STEPS, params)
        sizes = queries.cursor(con, "spark/partition_sizes").fetchall()
        cpu.mark("step_04")
        if sizes:
            tmp = lake.tmp_dir()
            con.table("_requests").select("*, pk AS part").write_parquet(
                str(tmp), partition_by=["part"], filename_pattern=f"part-{chunk}-{{i}}")
            lake.publish(tmp, f"{work}/requests")
        cpu.mark("write")
    return [(int(pk), int(n)) for pk, n in sizes], cpu.cpu, cpu.span()


def _attribute_task(args: tuple) -> tuple[dict, dict, tuple]:
    """Job 2: steps 05..09 over the requests of one group of partitions, their narrow attribution
    rows (step 11) and the rules' row stages over them (with the setup tables the driver wrote):
    each written to the lake, one part per table. Returns the CPU seconds the task took by step,
    its period's requests by attribution status, and its span (_StepCPU.span)."""
    group, pks, lake_root, work, analysis_id, attempt_parts, attempt_side, imap, since, until, rule_params, setup = args
    cpu = _StepCPU()
    lake = Lake.at(lake_root)
    mine = {f"part={pk}" for pk in pks}           # one listing (a LIST of an object store), not one per pk
    parts = sorted(lake.path(work, "requests", f) for f in lake.files(f"{work}/requests")
                   if f.partition("/")[0] in mine and f.rpartition("/")[2].startswith("part-"))
    with _task_store(lake, attempt_parts) as store:
        con = store.con
        params = correlate.prepare(con, imap, since=since, until=until, analysis_id=analysis_id)
        cpu.mark("prepare")
        _read_attempt_side(con, attempt_side, correlate.ATTRIBUTE_STEPS + correlate.STORE_ROW_STEPS + STAGED_RULES)
        cpu.mark("attempt_side")
        queries.run(con, "spark/requests_of_partitions", {"parts": parts})
        cpu.mark("read_requests")
        correlate.run_steps(con, correlate.ATTRIBUTE_STEPS, params)
        queries.run(con, "spark/offset_rn", {"offset": group << RN_BITS})
        cpu.mark("steps_05_09")
        correlate.run_steps(con, correlate.STORE_ROW_STEPS, params)
        cpu.mark("step_11")
        for table, part in setup.items():
            queries.run(con, "spark/rule_table", {"parts": [part]}, idents={"table": table})
        run_rule_stage(con, "rows", {**params, **rule_params})
        cpu.mark("rule_rows")
        tmp = lake.tmp_dir()
        for table, name in [("attribution_rows", "rows")] + [(t, f"rules/{t}") for t in rule_tables("rows")]:
            (tmp / name).mkdir(parents=True)
            con.table(table).write_parquet(str(tmp / name / f"part-{group}-0.parquet"))
        lake.publish(tmp, work)
        cpu.mark("write")
        counts = correlate.status_counts(con)
        cpu.mark("counts")
    return cpu.cpu, counts, cpu.span()


def _summed(cpus: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    for cpu in cpus:
        for step, s in cpu.items():
            out[step] = out.get(step, 0.0) + s
    return out


def _chunks(parts: list[tuple[str, str]], n: int, max_bytes: int, size=lambda p: Path(p).stat().st_size
            ) -> list[list[tuple[str, str]]]:
    """Request parts into at least n chunks (when there are that many parts) of at most about
    max_bytes of Parquet each, largest first to the lightest chunk: a task's memory is bounded by
    its chunk, the job's time by the heaviest one."""
    sizes = {p: size(p) for _, p in parts}
    k = max(1, min(len(parts), max(n, -(-sum(sizes.values()) // max_bytes))))
    chunks: list[tuple[int, list]] = [(0, []) for _ in range(k)]
    for table, p in sorted(parts, key=lambda tp: (-sizes[tp[1]], tp)):
        i = min(range(k), key=lambda j: (chunks[j][0], j))
        chunks[i] = (chunks[i][0] + sizes[p], chunks[i][1] + [(table, p)])
    return [c for _, c in chunks if c]


def _groups(sizes: dict[int, int], n: int, max_rows: int, slots: int = 1) -> list[list[int]]:
    """Partitions into at least n groups (when there are that many) of about equal requests, at
    most about max_rows each unless one partition is larger (largest first, to the lightest
    group): a task's memory and time grow with the requests of its group. The count is rounded up
    to a multiple of the cluster's task slots, so the last wave keeps every executor busy (11 groups
    on 2 slots left one executor idle for a whole task's time)."""
    k = max(1, min(len(sizes), max(n, -(-sum(sizes.values()) // max_rows))))
    slots = max(1, slots)
    k = max(1, min(len(sizes), -(-k // slots) * slots))
    groups: list[tuple[int, list[int]]] = [(0, []) for _ in range(k)]
    for pk, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        i = min(range(len(groups)), key=lambda j: (groups[j][0], j))
        groups[i] = (groups[i][0] + size, groups[i][1] + [pk])
    return [sorted(pks) for _, pks in groups if pks]


class Correlator:
    """The correlator of analyze.analysis.analyze on Spark: jobs 1 and 2 on the cluster, then the global step
    in the store (where the lake was loaded); the rules' setup and row stages run here (runs_rule_rows),
    their group stages in analyze."""

    runs_rule_rows = True

    def __init__(self, spark, lake: Lake, *, tasks_per_core: int = 2, chunk_bytes: int = 256 << 20,
                 group_rows: int = 1_000_000):
        self.spark, self.lake, self.tasks_per_core = spark, lake, tasks_per_core
        self.chunk_bytes, self.group_rows = chunk_bytes, group_rows
        self.timings: dict[str, float] = {}   # wall seconds of each part of the last run
        self.cpu: dict[str, float] = {}       # CPU seconds: the jobs' tasks summed, the driver's own
        self.task_cpu: dict[str, dict[str, float]] = {}   # per job: its tasks' CPU seconds by step, summed
        # per job: its start and end on the driver and its tasks' spans (epoch seconds): how long
        # each executor sat idle at the job's end while another ran its last task
        self.spans: dict[str, tuple[float, float, list[tuple[int, float, float]]]] = {}

    def _dropped(self, con, work: str) -> dict[str, str]:
        """The rids of each request table the store did not load (duplicates of records another
        unit loaded: Lake.load_into), as a Parquet file job 1's tasks leave out; none usually."""
        out = {}
        for table in REQUEST_TABLES:
            rids = queries.cursor(con, "spark/duplicate_rids", {"table": table}).to_arrow_table()
            if rids.num_rows:
                tmp = self.lake.tmp_dir()
                pq.write_table(rids, tmp / f"dropped-{table}.parquet")
                (out[table],) = self.lake.publish(tmp, work)
        return out

    def __call__(self, con, imap: IdentityMap, *, since: datetime | None, until: datetime | None,
                 analysis_id: str, progress=None, rule_params: dict) -> dict:
        params = correlate.prepare(con, imap, since=since, until=until, analysis_id=analysis_id)
        lake, sc = self.lake, self.spark
        lake.register(con)
        work = lake.work(con, analysis_id)
        lake.remove(work)
        lake.sweep_attribution_parts(con)    # parts no analysis names: replaced, or a failed run's
        t0, cpu = time.perf_counter(), time.process_time()
        run_rule_stage(con, "setup", rule_params)        # small tables from the store, for the tasks
        tmp = lake.tmp_dir()
        for table in rule_tables("setup"):
            con.table(table).write_parquet(str(tmp / f"{table}.parquet"))
        lake.publish(tmp, f"{work}/setup")
        setup = {t: lake.path(work, "setup", f"{t}.parquet") for t in rule_tables("setup")}
        self.timings["rule_setup"] = time.perf_counter() - t0
        self.cpu["rule_setup"] = time.process_time() - cpu
        t0, cpu = time.perf_counter(), time.process_time()
        # the attempt side once, here, for every task (where each task computed it, ~0.7 CPU-s a
        # task at 10M requests); the store's steps after job 2 read the same tables
        correlate.run_steps(con, correlate.ATTEMPT_STEPS, params)
        tmp = lake.tmp_dir()
        for table in ATTEMPT_SIDE:
            con.table(table).write_parquet(str(tmp / f"{table}.parquet"))
        lake.publish(tmp, f"{work}/attempt_side")
        attempt_side = {t: lake.path(work, "attempt_side", f"{t}.parquet") for t in ATTEMPT_SIDE}
        self.timings["attempt_side"] = time.perf_counter() - t0
        self.cpu["attempt_side"] = time.process_time() - cpu
        units = lake.units() - set(r for r, in queries.cursor(con, "spark/skipped_units").fetchall())
        dropped = self._dropped(con, work)
        attempt_parts = {t: lake.parts(t, units=units) for t in ATTEMPT_TABLES}
        days = day_range(params["ext_since"], params["ext_until"])
        request_parts = [(t, p) for t in REQUEST_TABLES for p in lake.parts(t, units=units, days=days)]
        n = parallelism(self.spark) * self.tasks_per_core
        t0 = time.perf_counter()
        jobs = [(i, str(lake.root), work, analysis_id, attempt_parts, attempt_side,
                 {t: [p for tt, p in chunk if tt == t] for t in REQUEST_TABLES}, imap, since, until, dropped)
                for i, chunk in enumerate(_chunks(request_parts, n, self.chunk_bytes, lake.size))]
        sizes: dict[int, int] = {}
        if progress is not None:
            progress.log(f"analyze: spark job 1, {len(jobs)} tasks: requests by partition")
        started = time.time()
        done = sc.parallelize(jobs, max(1, len(jobs))).map(_requests_task).collect()
        self.spans["requests"] = (started, time.time(), [span for _, _, span in done])
        self.task_cpu["requests"] = _summed([cpu for _, cpu, _ in done])
        self.cpu["requests"] = sum(self.task_cpu["requests"].values())
        for pairs, _, _ in done:
            for pk, size in pairs:
                sizes[pk] = sizes.get(pk, 0) + size
        self.timings["requests"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        groups = _groups(sizes, n, self.group_rows, slots=parallelism(self.spark))
        if progress is not None:
            progress.log(f"analyze: spark job 2, {len(groups)} tasks: {len(sizes)} partitions attributed")
        tasks = [(i, pks, str(lake.root), work, analysis_id, attempt_parts, attempt_side, imap, since, until,
                  rule_params, setup) for i, pks in enumerate(groups)]
        started = time.time()
        done = sc.parallelize(tasks, max(1, len(tasks))).map(_attribute_task).collect()
        self.spans["attribute"] = (started, time.time(), [span for _, _, span in done])
        self.task_cpu["attribute"] = _summed([cpu for cpu, _, _ in done])
        self.cpu["attribute"] = sum(self.task_cpu["attribute"].values())
        counts = {s: sum(c[s] for _, c, _ in done) for s in ("attributed", "ambiguous", "unattributed")}
        self.timings["attribute"] = time.perf_counter() - t0
        t0, cpu = time.perf_counter(), time.process_time()
        rows = [lake.path(work, "rows", f) for f in lake.files(f"{work}/rows") if f.startswith("part-")]
        if rows:
            correlate.store_analysis(con, params)
            t1 = time.perf_counter()
            # the rows stay in the lake: named in the store, read by its view (no append)
            lake.keep_attribution_parts(con, analysis_id, rows)
            self.timings["keep_rows"] = time.perf_counter() - t1
            t1 = time.perf_counter()
            for table in rule_tables("rows"):      # the rules' rows: a few per thousand requests
                parts = [lake.path(work, "rules", table, f) for f in lake.files(f"{work}/rules/{table}")
                         if f.startswith("part-")]
                queries.run(con, "spark/rule_table", {"parts": parts}, idents={"table": table})
            self.timings["rule_rows"] = time.perf_counter() - t1
        else:               # no worker traffic at all: the steps on the store give the empty _attr
            counts = None    # and counted there
            correlate.run_steps(con, correlate.REQUEST_STEPS + correlate.ATTRIBUTE_STEPS, params)
            correlate.store_analysis(con, params)
            correlate.run_steps(con, correlate.STORE_ROW_STEPS, params)
            run_rule_stage(con, "rows", {**params, **rule_params})
        counts = correlate.finish(con, counts)
        lake.remove(work)
        self.timings["store"] = time.perf_counter() - t0
        self.cpu["store"] = time.process_time() - cpu
        return counts

