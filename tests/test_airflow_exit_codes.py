"""The shipped DAG maps zsaudit's exit classes onto Airflow's retries, in a real Airflow
(`make test-airflow`, on Airflow 3.3 and 2.10; issue #18):

  bad usage / bad input (exit 2)      the task fails at once: one try, state `failed`, no retry
  a busy store (StoreBusy, retryable) try 1 is `up_for_retry`, its log says the store is in use;
                                      once the store is free a later try succeeds and the pack is written

The exit-2 case is an `airflow dags test zsaudit_nightly DATE` run with its own zsaudit.toml: the
test watches the first task's state through the REST API; once Airflow has decided, it stops the
run and marks it failed, so the scheduler never runs it again. The retry case needs the scheduler
(`dags test` runs a task without its retries): a run triggered through the REST API while this
test holds the DuckDB store open in another process; the harness sets ZSAUDIT_DAG_RETRY_DELAY=5,
so the retries come seconds apart rather than minutes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_harness import (
    AIRFLOW_VERSION, API, NIGHTLY_DAG_ID, RETRY_DAY, ROOT, AirflowError, AirflowHTTPError, assert_pack_of,
    write_nightly_inputs,
)

pytestmark = pytest.mark.airflow

FIRST_TASK = "ingest_zscaler"


def _first_try(server, day: str, deadline: float):
    """(run_id, [(try_number, state), ...] of FIRST_TASK) once Airflow decided about try 1."""
    while time.monotonic() < deadline:
        server._check_alive()
        runs = server.get(f"{API}/dags/{NIGHTLY_DAG_ID}/dagRuns?limit=100")["dag_runs"]
        run = next((r for r in runs if str(r.get("logical_date") or r.get("execution_date") or "")
                    .startswith(day)), None)
        if run is not None:
            tries = [(t["try_number"], t["state"]) for t in server.tries(NIGHTLY_DAG_ID, run["dag_run_id"])
                     if t["task_id"] == FIRST_TASK]
            if any(state in ("failed", "up_for_retry") for _, state in tries) or run["state"] == "failed":
                return run["dag_run_id"], sorted(tries)
        time.sleep(1)
    raise AirflowError(f"timed out waiting for {FIRST_TASK} of the {day} run to fail or be retried")


def dags_test_first_try(server, day: str, extra_env: dict, timeout: float = 300):
    """Run `airflow dags test` for `day` until Airflow decided about the first task's try 1."""
    env = {**server.env(), **extra_env}
    server.set_paused(NIGHTLY_DAG_ID, True)
    proc = subprocess.Popen([str(server.venv / "bin" / "airflow"), "dags", "test", NIGHTLY_DAG_ID, day],
                            env=env, cwd=server.home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    run_id = None
    try:
        run_id, tries = _first_try(server, day, time.monotonic() + timeout)
        return tries
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if run_id is not None:   # a run left 'running' would be picked up by the scheduler
            server._request("PATCH", f"{API}/dags/{NIGHTLY_DAG_ID}/dagRuns/{run_id}", {"state": "failed"})
        server.set_paused(NIGHTLY_DAG_ID, False)


def test_bad_usage_fails_the_task_without_a_retry(airflow_server, airflow_scheduled_run, tmp_path_factory):
    inputs = write_nightly_inputs(tmp_path_factory.mktemp("exit2"))
    config = inputs["config"]
    config.write_text(config.read_text().replace("pdf = true", 'pdf = "yes"'))   # exit 2: pack.pdf
    tries = dags_test_first_try(airflow_server, "2026-10-02", {"AIRFLOW_VAR_ZSAUDIT_CONFIG": str(config)})
    assert tries == [(1, "failed")], tries
    assert not inputs["db"].exists()            # refused before any work


# -- a busy store: retried, then the pack -------------------------------------------------------
BUSY = "in use by another process; try again when it is done"   # zsaudit.pipeline.StoreBusy
# What /tries says of a past try that was retried: Airflow archives a try whose state is not final
# (up_for_retry) as `failed` (TaskInstanceHistory.record_ti, 2.10 and 3.x): only the live state of
# the task instance tells a retry from a permanent failure.
RETRIED = {"up_for_retry", "failed"}
_HOLD = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


@contextlib.contextmanager
def store_held(db):
    """The DuckDB store opened read-write by another process (as `zsaudit run` from cron would)."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout.readline().strip() == "held", proc.communicate(timeout=30)[0]
        yield proc
    finally:
        proc.stdin.close()          # the holder's read() returns: it exits, the lock goes with it
        proc.wait(timeout=60)


def _task(server, run_id: str, task_id: str) -> dict:
    return server.get(f"{API}/dags/{NIGHTLY_DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")


def wait_until_retried(server, run_id: str, task_id: str, timeout: float = 300) -> dict:
    """The task instance once its try 1 is over: up_for_retry, or anything past it (on a loaded
    machine a poll may only see try 2 already queued). Fails at once on a final state of try 1."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server._check_alive()
        try:
            ti = _task(server, run_id, task_id)
        except AirflowHTTPError as exc:   # 404 until the scheduler made the TI; a 5xx under load
            if exc.code != 404 and exc.code < 500:
                raise
            ti = None
        except OSError:                   # a timeout on a loaded machine: ask again
            ti = None
        if ti and (ti["state"] == "up_for_retry" or (ti.get("try_number") or 0) > 1
                   or ti["state"] in ("failed", "success", "upstream_failed", "skipped")):
            return ti
        time.sleep(0.5)
    raise AirflowError(f"timed out waiting for try 1 of {task_id} in {run_id} to end\n{server.tail('scheduler')}")


def attempt_log(run, task_id: str, try_number: int, timeout: float = 60) -> str:
    """The task log Airflow wrote for one attempt (waits for it: the supervisor may flush late)."""
    path = run.run_logs_dir / f"task_id={task_id}" / f"attempt={try_number}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.stat().st_size:
            return path.read_text(errors="replace")
        time.sleep(1)
    return f"<no task log at {path}>"


def keep_logs(run, name: str) -> Path:
    """Copy the run's task logs and the components' stdout to test-artifacts/ for diagnosis."""
    dest = ROOT / "test-artifacts" / f"{name}-airflow-{AIRFLOW_VERSION}"
    shutil.rmtree(dest, ignore_errors=True)
    if run.run_logs_dir.is_dir():
        shutil.copytree(run.run_logs_dir, dest / "task_logs")
    shutil.copytree(run.component_logs, dest / "component_stdout")
    return dest


def test_busy_store_is_retried_and_a_later_try_writes_the_pack(airflow_server, airflow_nightly_run):
    inputs = airflow_server.nightly
    since, until = inputs["nights"][RETRY_DAY]
    run_id = f"zsaudit_busy_store_{RETRY_DAY}"
    with store_held(inputs["db"]):
        airflow_server.trigger(NIGHTLY_DAG_ID, run_id, logical_date=since, data_interval=(since, until))
        first = wait_until_retried(airflow_server, run_id, FIRST_TASK)
    # the lock is released: a retry may succeed now
    run = airflow_server.finished_run(NIGHTLY_DAG_ID, run_id, timeout=420)
    logs = {t["try_number"]: attempt_log(run, FIRST_TASK, t["try_number"])
            for t in run.tries if t["task_id"] == FIRST_TASK}
    states = {t["try_number"]: t["state"] for t in run.tries if t["task_id"] == FIRST_TASK}
    try:
        # Airflow's decision after try 1: a retry (a permanent failure would be `failed`, try 1 only)
        assert first["state"] == "up_for_retry" or first["try_number"] > 1, first
        assert BUSY in logs[1] and str(inputs["db"]) in logs[1], logs[1][-3000:]
        last = max(states)
        assert states[last] == "success" and last > 1, states
        # tries between the first and the last may have started before the lock went: busy too
        assert all(states[n] in RETRIED and BUSY in logs[n] for n in range(1, last)), states
        assert f"zsaudit {FIRST_TASK}: ingest zscaler:" in logs[last], logs[last][-3000:]
        assert run.state == "success", {t["task_id"]: t["state"] for t in run.task_instances}
        manifest = assert_pack_of(inputs["packs"], RETRY_DAY)
        assert manifest["period"]["since"] == since
    except AssertionError:
        print(f"task logs kept in {keep_logs(run, 'busy-store')}")   # noqa: T201
        raise
