"""A real standalone Spark cluster on 127.0.0.1 for `make test-spark`: one master and N workers
started with PySpark's own launcher (pyspark/bin/spark-class), each a process of ours, stopped
(and killed if need be) at the end. Needs Java 17 (`.ci/run` installs it from Debian).

Every JVM of the tests (master, workers, the driver and its executors, through the cluster's
SPARK_CONF_DIR) compiles with C1 only: they live for minutes and run no hot Java loop (the
tasks' work is Python and DuckDB), and C2's compiler threads took about half of each JVM's
start, ~4 of ~9 CPU-s of a driver's (measured session 12)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def java_missing() -> str | None:
    """Why the cluster cannot start here, or None."""
    if shutil.which("java") is None:
        return "no java on PATH (apt-get install openjdk-17-jre-headless; .ci/run does)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed (make test-spark installs the spark extra)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Child processes of pid, recursively (from /proc): an executor and its Python workers."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


# for short-lived JVMs on a small machine: C1 only, one GC thread (Spark adds its own --add-opens)
TEST_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


class SparkCluster:
    def __init__(self, workdir: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g"):
        self.workdir = Path(workdir)
        self.n_workers, self.cores, self.memory = workers, cores, memory
        self.port, self.ui_port = _free_port(), _free_port()
        self.master: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.conf_dir = self.workdir / "conf"
        self.env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
                    "SPARK_WORKER_DIR": str(self.workdir / "work"), "SPARK_NO_DAEMONIZE": "1",
                    "SPARK_CONF_DIR": str(self.conf_dir), "SPARK_DAEMON_JAVA_OPTS": TEST_JAVA_OPTS}

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")
        return subprocess.Popen([str(spark_home() / "bin" / "spark-class"), *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _start_worker(self, i: int) -> subprocess.Popen:
        return self._start(
            f"worker-{i}", "org.apache.spark.deploy.worker.Worker", self.url, "--host", "127.0.0.1",
            "--cores", str(self.cores), "--memory", self.memory, "--webui-port", str(_free_port()),
            "--work-dir", str(self.workdir / f"work-{i}"))

    def start(self, timeout: float = 120) -> "SparkCluster":
        self.workdir.mkdir(parents=True, exist_ok=True)
        # read by the drivers started with this env (and by the master and workers): their
        # executors' JVMs get the same options
        self.conf_dir.mkdir(exist_ok=True)
        (self.conf_dir / "spark-defaults.conf").write_text(
            f"spark.driver.extraJavaOptions {TEST_JAVA_OPTS}\nspark.executor.extraJavaOptions {TEST_JAVA_OPTS}\n")
        self.master = self._start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                  "--port", str(self.port), "--webui-port", str(self.ui_port))
        self.workers = [self._start_worker(i) for i in range(self.n_workers)]
        self.wait(timeout)
        return self

    def wait(self, timeout: float = 120) -> None:
        """Until every worker is registered with the master (alive)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.alive_workers() >= self.n_workers:
                return
            for p in [self.master, *self.workers]:
                if p.poll() is not None:
                    raise RuntimeError(f"a Spark process exited ({p.args[1]}); see {self.workdir}/*.log")
            time.sleep(0.2)
        raise RuntimeError(f"Spark cluster not up after {timeout}s; see {self.workdir}/*.log")

    def heal(self, timeout: float = 120) -> None:
        """A new worker in place of each killed one (kill_worker), and until all are alive: the
        master gives a running application an executor on it."""
        for i, p in enumerate(self.workers):
            if p.poll() is not None:
                self.workers[i] = self._start_worker(i)
        self.wait(timeout)

    def alive_workers(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=2) as r:
                state = json.load(r)
        except OSError:
            return 0
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")

    def kill_worker(self, i: int) -> list[int]:
        """SIGKILL worker i and everything under it (its executor, the executor's Python
        workers): a machine lost in the middle of a job. Returns the pids killed."""
        proc = self.workers[i]
        pids = [proc.pid, *_descendants(proc.pid)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)
        return pids

    def stop(self) -> None:
        procs = [*self.workers, *([self.master] if self.master else [])]
        for p in procs:
            if p.poll() is None:
                for pid in _descendants(p.pid):
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for pid in [p.pid, *_descendants(p.pid)]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                p.wait(timeout=10)
