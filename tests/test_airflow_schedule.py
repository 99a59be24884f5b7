"""The shipped DAG as Airflow schedules it (`make test-airflow`, on Airflow 3 and on Airflow 2.10).

Airflow 3 resolves `schedule="@daily"` to a CronTriggerTimetable: its runs have
data_interval_start == data_interval_end. Airflow 2 resolves it to a CronDataIntervalTimetable:
[yesterday, today). Either way a scheduled run must leave the pack of the day that just ended.
Two of Airflow's own paths: the run the scheduler creates from the DAG's timetable, and
`airflow dags test zsaudit_nightly DATE` (the DAG's timetable infers the run's interval).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from airflow_harness import AIRFLOW_MAJOR, NIGHTLY_DAG_ID, assert_pack_of, run_day, write_nightly_inputs
from zsaudit.store import Store

pytestmark = pytest.mark.airflow


def test_scheduled_run_leaves_the_pack_of_the_day_that_just_ended(airflow_scheduled_run):
    run = airflow_scheduled_run
    states = {t["task_id"]: t["state"] for t in run.task_instances}
    assert run.state == "success", states
    assert set(states) == {"ingest_zscaler", "ingest_airflow", "analyze", "report"}
    dag_run = run.extra["dag_run"]
    start, end = (datetime.fromisoformat(dag_run[k].replace("Z", "+00:00"))
                  for k in ("data_interval_start", "data_interval_end"))
    if AIRFLOW_MAJOR >= 3:
        assert start == end, dag_run          # CronTriggerTimetable: a zero-width "interval"
    else:
        assert end - start == timedelta(days=1), dag_run
    # the day the run audits follows from its own timetable values, not from the clock when this
    # assertion runs (a suite that crosses midnight UTC must not move the day)
    day = (start.date() if AIRFLOW_MAJOR < 3 else (start - timedelta(days=1)).date()).isoformat()
    assert_pack_of(run.extra["packs"], day)
    # the night synthesized for yesterday was analysed for that day: its planted findings are there
    with Store(run.extra["db"], read_only=True) as s:
        kinds = s.con.execute(
            "SELECT DISTINCT f.kind FROM findings f JOIN analysis_runs a USING (analysis_id) "
            "WHERE a.period_start = CAST(? AS TIMESTAMPTZ)", [f"{day}T00:00:00Z"]).fetchall()
    assert kinds, "the scheduled run analysed yesterday's synthetic night and found nothing"


def test_dags_test_leaves_the_pack_of_the_day_before_its_date(airflow_server, airflow_scheduled_run,
                                                              tmp_path_factory):
    """`airflow dags test zsaudit_nightly 2026-11-25` (the command the issue reproduced the failure
    with) audits 2026-11-24, on Airflow 3's trigger timetable and Airflow 2's data intervals alike."""
    # zsaudit.synth's night (2026-11-24); the pack without its PDF: the day is what is tested here
    inputs = write_nightly_inputs(tmp_path_factory.mktemp("dags_test"), pdf=False)
    day = inputs["night"][0][:10]
    next_day = (datetime.fromisoformat(day) + timedelta(days=1)).strftime("%Y-%m-%d")
    result = airflow_server.dags_test(NIGHTLY_DAG_ID, next_day,
                                      extra_env={"AIRFLOW_VAR_ZSAUDIT_CONFIG": str(inputs["config"])})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "zsaudit report:" in output, output[-5000:]
    assert_pack_of(inputs["packs"], day, pdf=False)
    assert [p.name for p in inputs["packs"].iterdir()] == [day]


def test_single_task_layout_reads_the_airflow_it_runs_in_through_its_api(airflow_server, airflow_scheduled_run,
                                                                         tmp_path_factory):
    """For distributed executors: ZSAUDIT_DAG_LAYOUT=single (one task, every stage in one process)
    and a config without airflow.paths: the task reads its own Airflow's REST API, with the
    credentials of the Airflow connection `zsaudit_airflow_api`."""
    inputs = write_nightly_inputs(tmp_path_factory.mktemp("single"), airflow_paths=False, pdf=False)
    scheduled = airflow_scheduled_run
    # the day the scheduled run's attempts ran (not the clock now: the suite may cross midnight UTC)
    today = run_day(scheduled)
    port = airflow_server.port
    result = airflow_server.dags_test(NIGHTLY_DAG_ID, (today + timedelta(days=1)).isoformat(), extra_env={
        "AIRFLOW_VAR_ZSAUDIT_CONFIG": str(inputs["config"]),
        "ZSAUDIT_DAG_LAYOUT": "single",
        "AIRFLOW_CONN_ZSAUDIT_AIRFLOW_API": f"http://admin:zsaudit-test@127.0.0.1:{port}",
    })
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "zsaudit run:" in output, output[-5000:]
    assert_pack_of(inputs["packs"], today.isoformat(), pdf=False)
    with Store(inputs["db"], read_only=True) as s:
        rows = s.con.execute("SELECT task_id, state, hostname, sources FROM task_attempts WHERE run_id = ?",
                             [scheduled.run_id]).fetchall()
    assert {r[0] for r in rows} == {"ingest_zscaler", "ingest_airflow", "analyze", "report"}
    assert all(r[2] and "rest_api" in r[3] and "log" in r[3] for r in rows), rows
