"""`zsaudit ingest airflow https://...`: a live Airflow's REST API as a source (`make test-airflow`).

The run is ingested twice, through the API (task instances, every try, every try's log) and from
what Airflow wrote on disk (the log tree and the metadata DB); both must tell the same story:
same attempts, states, hosts, times, connections and egress hints. Airflow 3: REST API v2 with a
JWT from /auth/token; Airflow 2.10: REST API v1 with basic auth. The run is the test DAG's (retries,
a permanent failure, mapped tasks, HTTP calls) on both.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.store import Store

pytestmark = pytest.mark.airflow

SECRET = "zsaudit-test"   # the harness's admin password


def period_now() -> tuple[str, str]:
    """The runs of this session ran today (UTC): a period around now."""
    today = datetime.now(timezone.utc).date()
    return (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()


def cli(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def api_env(monkeypatch):
    monkeypatch.delenv("ZSAUDIT_AIRFLOW_TOKEN", raising=False)
    monkeypatch.setenv("ZSAUDIT_AIRFLOW_USER", "admin")
    monkeypatch.setenv("ZSAUDIT_AIRFLOW_PASSWORD", SECRET)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


def story(db: Path, dag_id: str, run_id: str) -> dict:
    """What zsaudit knows of one run, in a comparable form."""
    with Store(db, read_only=True) as s:
        def rows(sql):
            return sorted(s.con.execute(sql, [dag_id, run_id]).fetchall(), key=repr)

        return {
            "attempts": rows("SELECT task_id, map_index, try_number, state, hostname, start_time, end_time, "
                             "executor, queue FROM task_attempts WHERE dag_id = ? AND run_id = ?"),
            "connections": rows("SELECT task_id, map_index, try_number, conn_id FROM task_connections "
                                "WHERE dag_id = ? AND run_id = ?"),
            "hints": rows("SELECT task_id, map_index, try_number, host, port, url FROM task_egress_hints "
                          "WHERE dag_id = ? AND run_id = ?"),
            "log_lines": s.con.execute("SELECT count(*) FROM airflow_log_lines l JOIN task_attempts a "
                                       "ON l.attempt_id = a.attempt_id WHERE a.dag_id = ? AND a.run_id = ?",
                                       [dag_id, run_id]).fetchone()[0],
        }


def test_api_ingest_tells_the_same_story_as_the_log_tree_and_metadata_db(airflow_test_run, airflow_server,
                                                                         tmp_path, monkeypatch):
    run = airflow_test_run
    api_env(monkeypatch)
    since, until = period_now()
    api_db, disk_db = tmp_path / "api.duckdb", tmp_path / "disk.duckdb"
    result = cli("ingest", "airflow", airflow_server.api, "--since", since, "--until", until, "--db", api_db)
    assert result.exit_code == 0, result.output
    assert not re.search(re.escape(SECRET) + r"(?![-\w])", result.output)
    assert cli("ingest", "airflow", run.logs_dir, run.db_path, "--db", disk_db, "--quiet").exit_code == 0

    from_api, from_disk = story(api_db, run.dag_id, run.run_id), story(disk_db, run.dag_id, run.run_id)
    assert len(from_api["attempts"]) == len(run.tries) and from_api["attempts"] == from_disk["attempts"]
    assert all(a[4] and a[8] for a in from_api["attempts"])            # every attempt has its host and queue
    assert from_api["connections"] == from_disk["connections"]
    assert from_api["hints"] == from_disk["hints"]
    assert from_api["log_lines"] == from_disk["log_lines"] > 0      # the same lines, banner dropped
    assert from_api["hints"]                    # the test DAG calls out
    assert {a[3] for a in from_api["attempts"]} >= {"success", "failed"}
    with Store(api_db, read_only=True) as s:
        sources = {r[0] for r in s.con.execute(
            "SELECT DISTINCT unnest(sources) FROM task_attempts WHERE run_id = ?", [run.run_id]).fetchall()}
        kinds = {r[0] for r in s.con.execute("SELECT DISTINCT source_kind FROM ingest_ledger").fetchall()}
    assert {"rest_api", "log"} <= sources
    assert "airflow_rest_api" in kinds
    mirror = api_db.with_name("api.duckdb.airflow-api")
    password = re.compile(re.escape(SECRET).encode() + rb"(?![-\w])")   # not "zsaudit-test-proxy" in a log
    assert not any(password.search(p.read_bytes()) for p in mirror.rglob("*") if p.is_file())

    # a re-run fetches no finished try's log again (only tries still running elsewhere, e.g. the
    # shipped DAG's scheduled run) and changes nothing
    run_logs = sorted((mirror.glob(f"*/logs/dag_id={run.dag_id}/run_id={run.run_id}/**/*.log")))
    assert len(run_logs) == len(run.tries)
    before = {p: p.stat().st_mtime_ns for p in run_logs}
    again = cli("ingest", "airflow", airflow_server.api, "--since", since, "--until", until, "--db", api_db)
    assert again.exit_code == 0, again.output
    assert " already in " in again.output, again.output
    assert {p: p.stat().st_mtime_ns for p in run_logs} == before
    assert story(api_db, run.dag_id, run.run_id) == from_api


def test_api_credentials_are_checked_and_never_echoed(airflow_server, tmp_path, monkeypatch):
    api_env(monkeypatch)
    monkeypatch.setenv("ZSAUDIT_AIRFLOW_PASSWORD", "wrong-password-123")
    since, until = period_now()
    result = cli("ingest", "airflow", airflow_server.api, "--since", since, "--until", until,
                 "--db", tmp_path / "x.duckdb")
    assert result.exit_code == 2, result.output
    assert "wrong-password-123" not in result.output
    assert "ZSAUDIT_AIRFLOW_USER" in result.output
