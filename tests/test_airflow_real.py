"""Real Apache Airflow (`make test-airflow`, 3.3 and 2.10): the test DAG's run is ingested by
zsaudit, and the shipped `zsaudit_nightly` DAG writes a pack and then is audited by zsaudit itself.

The Airflow set-up (venv, AIRFLOW_HOME, its components, triggering) is in
tests/airflow_harness.py; the fixtures are session-scoped, so Airflow starts once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from airflow_harness import AIRFLOW_MAJOR
from zsaudit.cli import main
from zsaudit.store import Store

pytestmark = pytest.mark.airflow


def ingest(db: Path, *paths) -> None:
    result = CliRunner().invoke(main, ["ingest", "airflow", *map(str, paths), "--db", str(db), "--quiet"])
    assert result.exit_code == 0, result.output


def attempts(db: Path, dag_id: str, run_id: str) -> dict:
    with Store(db, read_only=True) as s:
        rows = s.con.execute(
            "SELECT task_id, map_index, try_number, state, hostname, start_time, end_time, log_file "
            "FROM task_attempts WHERE dag_id = ? AND run_id = ? ORDER BY ALL", [dag_id, run_id]).fetchall()
    return {(r[0], r[1], r[2]): r[3:] for r in rows}


# -- the test DAG -------------------------------------------------------------------------------
def test_test_dag_ran_every_kind_of_attempt(airflow_test_run):
    run = airflow_test_run
    assert run.state == "failed"  # always_fail fails for good, as designed
    tries = {(t["task_id"], t["map_index"], t["try_number"]): t for t in run.tries}
    assert {k for k in tries if k[0] == "flaky"} == {("flaky", -1, 1), ("flaky", -1, 2)}
    assert tries[("flaky", -1, 2)]["state"] == "success"
    assert tries[("always_fail", -1, 1)]["state"] == "failed"
    assert {k[1] for k in tries if k[0] == "square"} == {0, 1, 2}
    assert len(tries) == 10
    # Airflow wrote one task log file per attempt, in the default layout (the same on 3.x and 2.10)
    names = {str(p.relative_to(run.run_logs_dir)) for p in run.task_log_files()}
    assert "task_id=flaky/attempt=2.log" in names and "task_id=square/map_index=2/attempt=1.log" in names
    assert len(names) == 10
    assert run.db_path.is_file()
    # the proxied call really went through the loopback proxy to the origin
    assert any("GET http://127.0.0.1" in line and "/data.json?src=python 200" in line
               for line in run.extra["proxy_access"])
    assert any("/data.json?src=python via=1.1 zsaudit-test-proxy" in line for line in run.extra["origin_access"])


def test_zsaudit_ingests_the_real_run(airflow_test_run, tmp_path):
    run = airflow_test_run
    db = tmp_path / "real.duckdb"
    ingest(db, run.logs_dir, run.db_path)
    got = attempts(db, run.dag_id, run.run_id)
    expected = {(t["task_id"], t["map_index"], t["try_number"]): t for t in run.tries}
    assert set(got) == set(expected)                                 # every attempt, no more
    assert got[("flaky", -1, 2)][0] == "success"
    assert got[("always_fail", -1, 1)][0] == "failed"
    assert got[("flaky", -1, 1)][0] in ("failed", "up_for_retry")
    hosts = {row[1] for row in got.values()}
    assert hosts == {t["hostname"] for t in run.tries} and all(hosts)    # as Airflow recorded them
    for key, (state, host, start, end, log_file) in got.items():
        assert start is not None and end is not None and start <= end, key
        assert log_file and Path(log_file).name == f"attempt={key[2]}.log"
    # egress: the proxied URL user code logged, and (namespace_levels: hooks at DEBUG) the HttpHook's
    with Store(db, read_only=True) as s:
        hints = s.con.execute("SELECT task_id, url FROM task_egress_hints WHERE run_id = ?", [run.run_id]).fetchall()
    assert any(t == "fetch_via_proxy" and "/data.json?src=python" in (u or "") for t, u in hints), hints
    if AIRFLOW_MAJOR >= 3:   # 2.10 has no [logging] namespace_levels, and its HttpHook logs no URL at INFO
        assert any(t == "http_hook_post" and "/api/post" in (u or "") for t, u in hints), hints
    # ingesting the same run again changes nothing
    ingest(db, run.logs_dir, run.db_path)
    assert attempts(db, run.dag_id, run.run_id) == got


def test_zsaudit_ingests_the_rest_api_export_of_the_run(airflow_test_run, tmp_path):
    run = airflow_test_run
    db = tmp_path / "rest.duckdb"
    ingest(db, run.run_logs_dir.parent.parent, run.rest_export(tmp_path / "task_instances.json"))
    got = attempts(db, run.dag_id, run.run_id)
    assert len(got) == 10
    assert {row[1] for row in got.values()} == {t["hostname"] for t in run.tries}


# -- the shipped nightly DAG --------------------------------------------------------------------
def test_nightly_dag_writes_the_pack_for_its_data_interval(airflow_nightly_run):
    run = airflow_nightly_run
    by_task = {t["task_id"]: t for t in run.task_instances}
    assert run.state == "success", {k: v["state"] for k, v in by_task.items()}
    assert list(by_task) and set(by_task) == {"ingest_zscaler", "ingest_airflow", "analyze", "report"}
    assert all(t["state"] == "success" and t["try_number"] == 1 for t in by_task.values())
    pack = run.extra["pack_dir"]
    assert pack.name == run.extra["night"][0][:10]       # packs/YYYY-MM-DD
    for name in ("index.html", "audit-pack.pdf", "manifest.json", "findings.ocsf.json"):
        assert (pack / name).is_file(), name
    from zsaudit.report import verify

    assert verify(pack) == []
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["period"] == {"since": run.extra["night"][0], "until": run.extra["night"][1]}
    with Store(run.extra["db"], read_only=True) as s:
        kinds = {k for (k,) in s.con.execute("SELECT DISTINCT kind FROM findings").fetchall()}
    assert kinds, "the synthetic night plants findings; the nightly DAG found none"
    html = (pack / "index.html").read_text()
    assert all(kind in html for kind in kinds)


def test_nightly_run_audits_itself(airflow_nightly_run, tmp_path):
    """zsaudit ingests the task logs and metadata DB of the Airflow run that produced its pack."""
    run = airflow_nightly_run
    db = tmp_path / "self.duckdb"
    ingest(db, run.logs_dir, run.db_path)
    got = attempts(db, run.dag_id, run.run_id)
    assert {k[0] for k in got} == {"ingest_zscaler", "ingest_airflow", "analyze", "report"}
    hosts = {t["hostname"] for t in run.tries}
    assert all(row[0] == "success" and row[1] in hosts and row[1] for row in got.values())
    starts = {k[0]: row[2] for k, row in got.items()}
    assert starts["ingest_zscaler"] < starts["ingest_airflow"] < starts["analyze"] < starts["report"]
    with Store(db, read_only=True) as s:
        said = [m for (m,) in s.con.execute(
            "SELECT message FROM airflow_log_lines WHERE log_file LIKE ? AND message LIKE 'zsaudit report:%'",
            [f"%dag_id={run.dag_id}%"]).fetchall()]
    assert said and "index.html" in said[0]


def test_shipped_dag_parses_without_importing_zsaudit(airflow_server):
    """What the DAG processor pays per parse: no zsaudit, DuckDB or Polars import."""
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "heavy = sorted(m for m in ('zsaudit', 'duckdb', 'polars', 'pyarrow', 'weasyprint') if m in sys.modules); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    dag = Path(__file__).resolve().parent.parent / "zsaudit" / "airflow" / "dags" / "zsaudit_nightly.py"
    result = subprocess.run([str(airflow_server.venv / "bin" / "python"), "-c", code, str(dag)],
                            env=airflow_server.env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_dag_refuses_a_retry_delay_that_is_not_seconds(airflow_server):
    """ZSAUDIT_DAG_RETRY_DELAY (the first retry's delay) is checked when the DAG is parsed: an
    import error naming the variable, not a silent default."""
    # one interpreter parses the file once per value (the value is read when the module runs, as
    # the DAG processor's fresh parse does): Airflow is imported once, not once a value
    code = (
        "import json, os, runpy, sys, traceback\n"
        "for value in json.loads(sys.argv[2]):\n"
        "    os.environ['ZSAUDIT_DAG_RETRY_DELAY'] = value\n"
        "    try:\n"
        "        said, ok = str(runpy.run_path(sys.argv[1])['default_args']['retry_delay']), True\n"
        "    except Exception:\n"
        "        said, ok = traceback.format_exc(), False\n"
        "    print('answer', json.dumps([value, ok, said]), flush=True)\n"
    )
    dag = Path(__file__).resolve().parent.parent / "zsaudit" / "airflow" / "dags" / "zsaudit_nightly.py"
    cases = (("90", True, "0:01:30"), ("", True, "0:01:00"), ("soon", False, "'soon'"),
             ("0", False, "between 0 and 86400"))
    result = subprocess.run([str(airflow_server.venv / "bin" / "python"), "-c", code, str(dag),
                             json.dumps([value for value, _, _ in cases])],
                            env=airflow_server.env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.removeprefix("answer ") for line in result.stdout.splitlines() if line.startswith("answer ")]
    answers = {value: (ok, said) for value, ok, said in map(json.loads, lines)}
    assert list(answers) == [value for value, _, _ in cases], result.stdout + result.stderr
    for value, ok, said in cases:
        assert answers[value][0] == ok and said in answers[value][1], (value, answers[value])
        if not ok:
            assert "ZSAUDIT_DAG_RETRY_DELAY=" in answers[value][1]
