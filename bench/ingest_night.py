"""Benchmark: a night of 24 hourly Zscaler files ingested on 1 core and on 2 cores (issue 17, item 1).

Not a test. Writes 24 ZIA web files (one per hour of a day, distinct recordids) into
bench/data/night-<fmt>-<records>/ (git-ignored) with zsaudit.ingest.nss_writer, then ingests the
folder into a new DuckDB file in a fresh child process pinned with `taskset -c 0` and with
`taskset -c 0,1`, alternately, and prints wall time, CPU seconds (user + sys, all threads), peak
RSS and the speed-up. Every run must load the same rows (asserted). Then a CPU breakdown, mean
per cpu set, with the extra of the last set over the first: user and sys, page faults (by
thread too), context switches, CPU by thread role and by ingest step (what an extra CPU second
on two cores is spent on; --no-breakdown leaves the steps unwrapped), and the parallel path's phases:
head, middle (every worker staging), drain, tail (the writer alone), final (checkpoint), with
their wall and CPU seconds and idle core-seconds; last, bench/scale.py's core probe (the same
single-threaded DuckDB work alone and two at once: what two busy cores cost per CPU-second on
this machine, whatever zsaudit does; --no-probe skips it).

    python bench/ingest_night.py                        # json, 36,000 records per file, 3 rounds
    python bench/ingest_night.py --format kv --per-file 18000 --rounds 1
    python bench/ingest_night.py --workers 1            # one worker on either cpu set
    python bench/ingest_night.py --cpus 0 --cpus 0/2 --cpus 0,1 --cpus 0,1/1 --rounds 2

`--workers N` sets ZSAUDIT_INGEST_WORKERS for the child (default: one per core it may use);
`--cpus CPUS/N` runs a cpu set with N workers (0/2: the parallel path on one core).
`--batch-probe` runs, after the rest, the stagers' work for one batch of the night alone on core
0 and on cores 0 and 1 at once: what two busy cores cost the ingest's own statement.
`--runnable` reads the child's threads' states every 2 ms from this process and adds, per phase,
the core-seconds no thread of the ingest was ready to use (cores - runnable threads): idle that
is the ingest's own, measurable on a loaded machine; the sampling costs this process about a
quarter of a core (24 threads read 300 times a second), so not with the quiet figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from ingest import DATA, RECORD_ID, _records  # noqa: E402  (bench/ingest.py: the same records)

HOUR = 3600


def generate(fmt: str, per_file: int) -> Path:
    """24 files, file h holding events of hour h only: one hour of records rendered once,
    its hour and recordids rewritten per file and repetition (as bench/ingest.py does)."""
    from zsaudit.ingest import nss_writer

    out = DATA / f"night-{fmt}-{per_file}"
    if (out.parent / f"{out.name}.done").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lines = list(nss_writer.render_lines(_records(HOUR), "zia_web", fmt))
    header = []
    if fmt in ("csv", "tsv"):
        header, lines = lines[:1], lines[1:]
    block = "\n".join(lines) + "\n"
    hour0 = "Nov 24 00:" if fmt == "json" else "2026-11-24 00:"
    if hour0 not in block:
        hour0 = "Nov 24 2026 00:" if "Nov 24 2026 00:" in block else hour0
    assert hour0 in block, f"{fmt}: the bench's time rewrite does not match its lines"
    reps = -(-per_file // HOUR)
    for h in range(24):
        hourly = block.replace(hour0, hour0.replace(" 00:", f" {h:02d}:"))
        with open(out / f"zia-web-2026-11-24T{h:02d}.{fmt}", "w", encoding="utf-8") as fh:
            fh.writelines(header and [header[0] + "\n"])
            for k in range(reps):
                text = hourly.replace(str(RECORD_ID), str(RECORD_ID + 100 * h + k))
                if k == reps - 1 and per_file % HOUR:
                    text = "".join(text.splitlines(keepends=True)[:per_file % HOUR])
                fh.write(text)
    (out.parent / f"{out.name}.done").write_text("")
    return out


class ThreadCpu:
    """CPU seconds of each thread of this process by role, from /proc/self/task/<tid>/stat
    (utime + stime), sampled every 50 ms by a thread of its own (not counted): a thread that
    ends between two samples loses at most its last 50 ms, counted as `unattributed`."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, on_sample=None) -> None:
        import threading
        self.on_sample = on_sample
        self.seen: dict[int, tuple[str, int, int]] = {}     # tid -> (role, ticks, minor faults)
        self.names: dict[int, str] = {}                     # tid -> Python thread name
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self.thread.start()
        self.sample()
        self.base = {tid: (ticks, faults) for tid, (_, ticks, faults) in self.seen.items()}   # before the ingest

    def _role(self, tid: int, comm: str) -> str | None:
        name = self.names.get(tid, "")
        if name == "MainThread":
            return "writer"
        if name == "bench-sampler":
            return None
        if name.startswith(("zsaudit-ingest", "zsaudit-stage")):
            return "stagers"
        if comm.startswith("polars"):
            return "polars pool"
        if comm.startswith("jemalloc"):
            return "jemalloc purge"
        return "other threads"

    def sample(self) -> None:
        import threading
        if self.on_sample is not None:
            self.on_sample()
        for t in threading.enumerate():
            if t.native_id is not None:
                self.names[t.native_id] = t.name
        for entry in os.scandir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{entry.name}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            role = self._role(int(entry.name), comm)
            if role is not None:
                self.seen[int(entry.name)] = (role, int(fields[11]) + int(fields[12]), int(fields[7]))

    def _run(self) -> None:
        while not self.done.wait(0.05):
            self.sample()

    def stop(self) -> tuple[dict[str, float], dict[str, int]]:
        """(CPU seconds, minor page faults) by role since this sampler started."""
        self.done.set()
        self.thread.join()
        self.sample()
        cpu: dict[str, float] = {}
        faults: dict[str, int] = {}
        for tid, (role, ticks, flt) in self.seen.items():
            ticks0, flt0 = self.base.get(tid, (0, 0))
            cpu[role] = cpu.get(role, 0.0) + (ticks - ticks0) / self.TICK
            faults[role] = faults.get(role, 0) + flt - flt0
        return cpu, faults


class StepCpu:
    """Thread CPU (time.thread_time) of the ingest's steps, by role (the writer: the main thread;
    the stagers: the workers' threads), each step's own time without the steps it calls."""

    def __init__(self) -> None:
        import threading
        self.cpu: dict[tuple[str, str], float] = {}
        self.local = threading.local()

    def _role(self) -> str:
        import threading
        name = threading.current_thread().name
        return "writer" if name == "MainThread" else "stagers"

    def _enter(self) -> None:
        stack = getattr(self.local, "stack", None)
        if stack is None:
            stack = self.local.stack = []
        stack.append([time.thread_time(), 0.0])         # (start, the time of the steps it calls)

    def _leave(self, step: str) -> None:
        stack = self.local.stack
        start, inner = stack.pop()
        spent = time.thread_time() - start
        if stack:                                    # the caller's step does not count it again
            stack[-1][1] += spent
        key = (self._role(), step)
        self.cpu[key] = self.cpu.get(key, 0.0) + spent - inner

    def wrap(self, owner, attr: str, step: str) -> None:
        import functools
        import inspect
        fn = getattr(owner, attr)
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen(*args, **kwargs):
                it = fn(*args, **kwargs)
                while True:
                    self._enter()
                    try:
                        item = next(it)
                    except StopIteration:
                        return
                    finally:
                        self._leave(step)
                    yield item
            setattr(owner, attr, gen)
            return

        @functools.wraps(fn)
        def call(*args, **kwargs):
            self._enter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._leave(step)
        setattr(owner, attr, call)


def instrument() -> StepCpu:
    """The ingest's steps wrapped (StepCpu): what each costs, and on which side."""
    from zsaudit import store
    from zsaudit.ingest import ledger, zscaler, zscaler_batch, zscaler_spool, zscaler_write

    steps = StepCpu()
    for owner, attr, step in [
            (zscaler, "_hash", "hash"), (zscaler, "_plan", "sniff"),
            (zscaler_batch.BatchStatement, "__init__", "compile"),
            (zscaler_batch.BatchStatement, "staged_schema", "compile"),
            (zscaler_batch.BatchStatement, "numbered", "cut lines"),
            (zscaler_batch.BatchStatement, "split", "polars split"),
            (zscaler_batch.BatchStatement, "_over_caps", "caps"),
            (zscaler_batch.BatchStatement, "run", "batch SQL"),
            (zscaler_batch, "decode_lines", "cut lines"),
            (zscaler, "repair_staged", "JSON repair"),
            (zscaler_write, "with_record_keys", "record keys"),
            (zscaler_spool.Spool, "add", "spool write"),
            (zscaler_spool.Spool, "staged", "spool read"),
            (zscaler._FileLoad, "consume", "judge"),
            (zscaler_write.RecordWriter, "flush", "insert"),
            (ledger, "insert_rejects", "rejects"),
            (ledger, "record", "ledger"),
            (store.Chunked, "commit_chunk", "commit"),
            (zscaler, "_stage_file", "stage (rest)"),
            (zscaler, "_write_staged", "write (rest)"),
            (zscaler, "ingest_file", "write (rest)"),
            (zscaler, "_remove_partial", "remove partial"),
            (zscaler, "ingest_paths", "final checkpoint + rest")]:
        steps.wrap(owner, attr, step)
    return steps


class Timeline:
    """When the workers stage each file and the writer writes it (_Ahead._stage, _Ahead.write),
    and the process's CPU every 50 ms: the parallel path's phases, to tell idle cores from busy.
    head: until the first file is staged (the writer has nothing to write); middle: every worker
    busy staging; drain: from the first worker out of files to the last file staged; tail: the
    writer's files after that (one thread busy); final: the final checkpoint and the rest of
    ingest_paths after the last write."""

    def __init__(self) -> None:
        import threading
        from zsaudit.ingest import zscaler
        self.lock = threading.Lock()
        self.stage_ends: list[float] = []
        self.write_end = 0.0
        self.samples: list[tuple[float, float]] = []
        self.workers = 0
        stage, write = zscaler._Ahead._stage, zscaler._Ahead.write

        def staged(ahead, i, *args):
            self.workers = ahead.workers
            try:
                return stage(ahead, i, *args)
            finally:
                with self.lock:
                    self.stage_ends.append(time.perf_counter())

        def written(ahead, i):
            try:
                return write(ahead, i)
            finally:
                self.write_end = time.perf_counter()
        zscaler._Ahead._stage, zscaler._Ahead.write = staged, written

    def sample(self) -> None:
        self.samples.append((time.perf_counter(), time.process_time()))

    def phases(self, start: float, end: float) -> dict[str, tuple[float, float]]:
        """(wall s, CPU s) of each phase; nothing for the one-worker path (no _Ahead)."""
        if not self.stage_ends:
            return {}
        ends = sorted(self.stage_ends)
        drain = ends[max(0, len(ends) - self.workers)]      # a worker ends its last file
        marks = [("head", start, ends[0]), ("middle", ends[0], drain), ("drain", drain, ends[-1]),
                 ("tail", ends[-1], max(ends[-1], self.write_end)),
                 ("final", max(ends[-1], self.write_end), end)]

        def cpu_at(t: float) -> float:        # interpolated between the samples around t
            before = max((s for s in self.samples if s[0] <= t), default=self.samples[0])
            after = min((s for s in self.samples if s[0] >= t), default=self.samples[-1])
            if after[0] == before[0]:
                return before[1]
            return before[1] + (after[1] - before[1]) * (t - before[0]) / (after[0] - before[0])
        return {name: (max(0.0, b - a), max(0.0, cpu_at(b) - cpu_at(a))) for name, a, b in marks}

    def marks(self, start: float, end: float) -> dict[str, float]:
        """The phases' ends on the monotonic clock (time.monotonic, shared with other processes):
        for a sampler outside the process (runnable threads by phase)."""
        if not self.stage_ends:
            return {}
        ends = sorted(self.stage_ends)
        shift = time.monotonic() - time.perf_counter()
        drain = ends[max(0, len(ends) - self.workers)]
        return {k: v + shift for k, v in [("start", start), ("head", ends[0]), ("middle", drain),
                                          ("drain", ends[-1]), ("tail", max(ends[-1], self.write_end)),
                                          ("final", end)]}


def child(folder: str, db: str, breakdown: bool) -> None:
    from zsaudit.ingest import zscaler
    from zsaudit.store import Store

    steps = instrument() if breakdown else None
    timeline = Timeline()
    threads = ThreadCpu(timeline.sample)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)      # imports done: the ingest itself
    t, main0 = time.perf_counter(), time.thread_time()
    timeline.sample()

    with Store(db) as store:
        results = zscaler.ingest_paths(store, [folder])
    end = time.perf_counter()
    timeline.sample()
    elapsed, main_cpu = end - t, time.thread_time() - main0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    roles, faults = threads.stop()
    print(json.dumps({"files": len(results), "rows": sum(r.rows_loaded for r in results),
                      "rejected": sum(r.rows_rejected for r in results),
                      "seconds": elapsed, "cpu_seconds": ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime,
                      "user": ru.ru_utime - ru0.ru_utime, "sys": ru.ru_stime - ru0.ru_stime,
                      "minor_faults": ru.ru_minflt - ru0.ru_minflt,
                      "switches": ru.ru_nvcsw + ru.ru_nivcsw - ru0.ru_nvcsw - ru0.ru_nivcsw,
                      "main_cpu_seconds": main_cpu, "peak_rss_mb": ru.ru_maxrss / 1024,
                      "threads": roles, "thread_faults": faults, "phases": timeline.phases(t, end),
                      "marks": timeline.marks(t, end),
                      "steps": {f"{r}: {s}": v for (r, s), v in (steps.cpu if steps else {}).items()}}))


def batch_work(path: str, runs: int) -> None:
    """The stagers' work for the first 16 MiB batch of `path` (decode, number, the batch SQL to
    Arrow; one thread, DuckDB threads = 1), `runs` times: prints the median thread CPU s of one."""
    import statistics
    import duckdb
    from zsaudit import queries
    from zsaudit.ingest import zscaler, zscaler_sql
    from zsaudit.ingest.ledger import FileResult
    from zsaudit.ingest.zscaler_batch import BatchStatement, decode_lines

    con = duckdb.connect()
    queries.set_option(con, "threads", 1)
    queries.set_option(con, "TimeZone", "UTC")
    plan, _ = zscaler._plan(Path(path), path, "auto", None, zscaler.limits.MAX_LINE_BYTES,
                            FileResult(path=path, sha256=""))
    statement = BatchStatement(con, plan)
    with open(path, "rb") as fh:
        body = fh.read(zscaler.BATCH_BYTES)
    body = body[:body.rindex(b"\n")]
    spent = []
    for _ in range(runs):
        start = time.thread_time()
        split = statement.split(statement.numbered(1, decode_lines(body)))
        with queries.registered(con, {zscaler_sql.BATCH_TABLE: split}):
            queries.arrow_table(con, statement.sql, statement.params)
        spent.append(time.thread_time() - start)
    print(statistics.median(spent))


def batch_probe(folder: Path, rounds: int = 3, runs: int = 15) -> dict:
    """batch_work alone on core 0, then on cores 0 and 1 at once, `rounds` times: what two busy
    cores cost the ingest's own statement per CPU-second (bench/scale.py's core probe runs a
    small DuckDB workload, which two cores do not slow)."""
    first = str(sorted(folder.iterdir())[0])

    def start(cpu: str) -> subprocess.Popen:
        return subprocess.Popen(["taskset", "-c", cpu, sys.executable, __file__, "--batch-work", first, str(runs)],
                                stdout=subprocess.PIPE, text=True)
    alone, paired = [], []
    for _ in range(rounds):
        alone.append(float(start("0").communicate()[0]))
        pair = [start("0"), start("1")]
        paired += [float(p.communicate()[0]) for p in pair]
    a, b = sorted(alone)[len(alone) // 2], sorted(paired)[len(paired) // 2]
    return {"alone_cpu_s": a, "two_at_once_cpu_s": b, "ratio": b / a, "load": os.getloadavg()[0]}


def tlb_shootdowns() -> int:
    """TLB shootdowns of all CPUs so far (/proc/interrupts: the whole machine, not the child)."""
    try:
        with open("/proc/interrupts") as fh:
            for line in fh:
                if line.strip().startswith("TLB:"):
                    return sum(int(v) for v in line.split()[1:] if v.isdigit())
    except OSError:
        pass
    return 0


def run_sampled(cmd: list[str], env: dict) -> tuple[subprocess.CompletedProcess, list[tuple[float, int]]]:
    """`cmd` run with its threads' states read from outside every 2 ms (/proc/<pid>/task/*/stat):
    (the finished process, [(time.monotonic(), threads runnable)]). A thread waiting for a core
    (the load) stays runnable (R); one waiting for the GIL, a lock, a future or the disk sleeps:
    so the runnable count is the ingest's own demand for cores, which the load does not change
    much, unlike idle core-seconds measured as cores x wall - CPU."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    samples: list[tuple[float, int]] = []
    while proc.poll() is None:
        t, runnable = time.monotonic(), 0
        try:
            tids = os.listdir(f"/proc/{proc.pid}/task")
        except OSError:
            break
        for tid in tids:
            try:
                with open(f"/proc/{proc.pid}/task/{tid}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            runnable += stat[stat.rindex(")") + 2] == "R"
        samples.append((t, runnable))
        time.sleep(0.002)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), samples


def runnable_by_phase(samples: list[tuple[float, int]], marks: dict[str, float], cores: int) -> dict:
    """Per phase (marks: its end on the monotonic clock): (wall s, core-s no thread of the ingest
    was ready to use: the sum over samples of max(0, cores - threads runnable) x interval)."""
    out = {}
    names = list(marks)
    for a, b in zip(names, names[1:]):
        wall = idle = 0.0
        for (t, n), (t2, _) in zip(samples, samples[1:]):
            if marks[a] <= t < marks[b]:
                wall += t2 - t
                idle += (t2 - t) * max(0, cores - n)
        out[b] = (wall, idle)
    return out


def measure(folder: Path, spec: str, workers: str | None, breakdown: bool, runnable: bool = False) -> dict:
    cpus, _, own = spec.partition("/")            # "0,1/1": cpus 0,1 with one worker
    workers = own or workers
    db = DATA / "bench-night.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    env = dict(os.environ)
    if workers:
        env["ZSAUDIT_INGEST_WORKERS"] = workers
    load, tlb = os.getloadavg()[0], tlb_shootdowns()
    cmd = ["taskset", "-c", cpus, sys.executable, __file__, "--child", str(folder), str(db)] + ["--breakdown"] * breakdown
    samples = None
    if runnable:
        out, samples = run_sampled(cmd, env)
    else:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(out.stderr)
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["load"] = (load, os.getloadavg()[0])
    res["cores"] = len(cpus.split(","))
    res["tlb_shootdowns"] = tlb_shootdowns() - tlb
    res["runnable"] = runnable_by_phase(samples, res.get("marks", {}), res["cores"]) if samples else {}
    return res


def print_breakdown(runs: dict[str, list[dict]]) -> None:
    """Mean CPU seconds by thread and by step for each cpu set, and the last set's extra over
    the first's: where running on more cores costs more CPU."""
    sets = [c for c in runs if runs[c]]

    def mean(c: str, get) -> float:
        return sum(get(r) for r in runs[c]) / len(runs[c])

    lines = [("CPU s (user + sys)", lambda r: r["cpu_seconds"]), ("  user", lambda r: r["user"]),
             ("  sys", lambda r: r["sys"]),
             ("minor page faults (k)", lambda r: r["minor_faults"] / 1000),
             ("context switches (k)", lambda r: r["switches"] / 1000),
             ("TLB shootdowns, whole machine (k)", lambda r: r["tlb_shootdowns"] / 1000)]
    roles = sorted({k for c in sets for r in runs[c] for k in r["threads"]})
    lines += [(f"thread: {k}", lambda r, k=k: r["threads"].get(k, 0.0)) for k in roles]
    lines.append(("thread: unattributed (ended threads)",
                  lambda r: r["cpu_seconds"] - sum(r["threads"].values())))
    lines += [(f"faults (k): {k}", lambda r, k=k: r["thread_faults"].get(k, 0) / 1000) for k in roles]
    for phase in ("head", "middle", "drain", "tail", "final"):
        lines += [(f"phase {phase}: wall s", lambda r, p=phase: r["phases"].get(p, (0.0, 0.0))[0]),
                  (f"phase {phase}: CPU s", lambda r, p=phase: r["phases"].get(p, (0.0, 0.0))[1]),
                  (f"phase {phase}: idle core-s", lambda r, p=phase: r["cores"] * r["phases"].get(p, (0.0, 0.0))[0]
                   - r["phases"].get(p, (0.0, 0.0))[1])]
    lines.append(("idle core-s in all", lambda r: r["cores"] * r["seconds"] - r["cpu_seconds"]))
    if any(r.get("runnable") for c in sets for r in runs[c]):      # --runnable
        lines += [(f"no thread ready, core-s: {p}", lambda r, p=p: r["runnable"].get(p, (0.0, 0.0))[1])
                  for p in ("head", "middle", "drain", "tail", "final")]
    steps = sorted({k.split(": ", 1)[1] for c in sets for r in runs[c] for k in r["steps"]})
    lines += [(f"step: {k}", lambda r, k=k: sum(v for n, v in r["steps"].items() if n.endswith(f": {k}")))
              for k in steps]
    print("\nCPU breakdown, mean of each cpu set's runs (threads: /proc/self/task; steps: thread CPU of")
    print("the steps on any thread, exclusive of the steps they call; the rest is DuckDB/Arrow/Polars pools;")
    print("phases of the parallel path: head = until the first file is staged, middle = every worker staging,")
    print("drain = from a worker's last file to the last file staged, tail = the writer's files after that,")
    print("final = the final checkpoint and the rest;")
    print("idle core-s = cores x wall - CPU: on a loaded machine it counts the other processes' share too)")
    head = "".join(f"{'cpus ' + c:>12}" for c in sets)
    print(f"{'':40}{head}{'extra' if len(sets) > 1 else '':>9}")
    for label, get in lines:
        vals = [mean(c, get) for c in sets]
        extra = f"{vals[-1] - vals[0]:>+9.2f}" if len(sets) > 1 else ""
        print(f"{label:40}" + "".join(f"{v:>12.2f}" for v in vals) + extra)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--format", default="json")
    ap.add_argument("--per-file", type=int, default=36_000, help="records per hourly file")
    ap.add_argument("--rounds", type=int, default=3, help="1-core / 2-core pairs, alternately")
    ap.add_argument("--workers", default=None, help="ZSAUDIT_INGEST_WORKERS for the child")
    ap.add_argument("--cpus", action="append", help="taskset cpu lists to run, in turn (default: 0 and 0,1); CPUS/N: with N workers")
    ap.add_argument("--no-breakdown", action="store_true", help="no per-step CPU (the steps are not wrapped)")
    ap.add_argument("--keep", action="store_true", help="keep the generated night in bench/data/")
    ap.add_argument("--no-probe", action="store_true", help="no core probe after the runs")
    ap.add_argument("--runnable", action="store_true",
                    help="sample the child's runnable threads every 2 ms from outside: idle cores by phase "
                         "that the load does not inflate (the sampling costs ~1/4 core: not for the quiet figures)")
    ap.add_argument("--batch-probe", action="store_true",
                    help="after the runs, the night's own batch SQL alone on one core and on two at once")
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "DB"), help=argparse.SUPPRESS)
    ap.add_argument("--batch-work", nargs=2, metavar=("FILE", "RUNS"), help=argparse.SUPPRESS)
    ap.add_argument("--breakdown", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child, args.breakdown)
        return
    if args.batch_work:
        batch_work(args.batch_work[0], int(args.batch_work[1]))
        return
    cpu_sets = args.cpus or ["0", "0,1"]
    folder = generate(args.format, args.per_file)
    mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    print(f"night: 24 files, {24 * args.per_file:,} {args.format} records, {mb:,.0f} MB; "
          f"workers={args.workers or 'default'}")
    print("writer CPU s: CPU of the thread that writes the store (serial); cap: the speed-up two free cores")
    print("could give at most with that serial part, CPU s / max(writer CPU s, CPU s / 2)")
    print(f"{'cpus':5} {'wall s':>7} {'rec/s':>9} {'CPU s':>6} {'writer':>6} {'cap':>5} {'RSS MB':>6} "
          f"{'load before/after':>18}")
    runs: dict[str, list[dict]] = {c: [] for c in cpu_sets}
    rows = None
    try:
        for _ in range(args.rounds):
            for cpus in cpu_sets:
                r = measure(folder, cpus, args.workers, not args.no_breakdown, args.runnable)
                assert r["files"] == 24 and r["rejected"] == 0, r
                assert rows in (None, r["rows"]), (rows, r)     # every run loads the same rows
                rows = r["rows"]
                runs[cpus].append(r)
                cap = r["cpu_seconds"] / max(r["main_cpu_seconds"], r["cpu_seconds"] / 2)
                print(f"{cpus:5} {r['seconds']:>7.1f} {r['rows'] / r['seconds']:>9,.0f} {r['cpu_seconds']:>6.1f} "
                      f"{r['main_cpu_seconds']:>6.1f} {cap:>5.2f} {r['peak_rss_mb']:>6.0f} "
                      f"{r['load'][0]:>8.2f} / {r['load'][1]:.2f}", flush=True)
        if runs.get("0") and runs.get("0,1"):
            one, two = (min(r["seconds"] for r in runs[c]) for c in ("0", "0,1"))
            cpu1, cpu2 = (min(r["cpu_seconds"] for r in runs[c]) for c in ("0", "0,1"))
            print(f"best of {args.rounds}: 1 core {one:.1f} s, 2 cores {two:.1f} s: speed-up {one / two:.2f}x "
                  f"({rows:,} rows each run); least CPU 1 core {cpu1:.1f} s, 2 cores {cpu2:.1f} s "
                  f"({cpu2 / cpu1 - 1:+.0%}): with no idle core, at most {2 * cpu1 / cpu2:.2f}x")
        print_breakdown(runs)
        if not args.no_probe and {"0", "0,1"} <= set(runs):
            from scale import core_probe           # bench/scale.py's: the machine's own 2-core cost
            probe = core_probe()
            print(f"\ncore probe (bench/scale.py: one single-threaded DuckDB workload alone, then two at once): "
                  f"{probe['alone_cpu_s']:.3f} / {probe['two_at_once_cpu_s']:.3f} CPU-s a copy, "
                  f"{probe['ratio']:.2f}x (above 1: two busy cores do less per CPU-second than one; "
                  f"load {probe['load_avg'][0]})")
        if args.batch_probe:
            probe = batch_probe(folder)
            print(f"batch probe (the stagers' work for one 16 MiB batch of this night, median of 15 a process, "
                  f"3 rounds): alone {probe['alone_cpu_s']:.3f} CPU-s, two at once {probe['two_at_once_cpu_s']:.3f}: "
                  f"{probe['ratio']:.2f}x (the ceiling with no idle core: {2 / probe['ratio']:.2f}x; "
                  f"load {probe['load']:.1f})")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
            (folder.parent / f"{folder.name}.done").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
