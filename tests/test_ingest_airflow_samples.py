"""Airflow ingest on real Airflow 2.10.5 and 3.3.2 output (fixtures/airflow, see its README)."""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.ingest.airflow import attempt_id, ingest_paths

RUN1 = "manual_zsaudit_run1"


def _attempts(store, run_id=None):
    sql = ("SELECT task_id, map_index, try_number, hostname, state, return_code, operator, max_tries, "
           "host_source, times_source, state_source, airflow_version FROM task_attempts")
    params = []
    if run_id:
        sql += " WHERE run_id = ?"
        params.append(run_id)
    rows = store.con.execute(sql + " ORDER BY task_id, map_index, try_number", params).fetchall()
    return {(r[0], r[1], r[2]): r[3:] for r in rows}


@pytest.fixture
def af2(fixtures):
    return fixtures / "airflow" / "2.10.5"


@pytest.fixture
def af3(fixtures):
    return fixtures / "airflow" / "3.3.2"


def test_attempt_id_is_first_16_hex_of_sha256_of_identity():
    expected = hashlib.sha256(b"zsaudit_sample|manual_zsaudit_run1|square|1|1").hexdigest()[:16]
    assert attempt_id("zsaudit_sample", RUN1, "square", 1, 1) == expected


def test_airflow2_logs_give_host_state_return_code_and_operator(store, af2):
    results = ingest_paths(store, [af2 / "logs"])
    assert len(results) == 10
    assert all(r.lines_read == r.rows_loaded + r.rows_rejected for r in results)
    assert sum(r.rows_rejected for r in results) == 0
    a = _attempts(store)
    # (hostname, state, return_code, operator, max_tries, host_source, times_source, state_source, version)
    assert a[("flaky", -1, 1)] == ("vm", "up_for_retry", 1, "PythonOperator", 2, "log", "log", "log", "2")
    assert a[("flaky", -1, 2)] == ("vm", "success", 0, "PythonOperator", 2, "log", "log", "log", "2")
    assert a[("always_fail", -1, 1)][:4] == ("vm", "failed", 1, "PythonOperator")
    assert a[("http_operator_get", -1, 1)][:4] == ("vm", "success", 0, "HttpOperator")
    assert [k for k in a if k[0] == "square"] == [("square", 0, 1), ("square", 1, 1), ("square", 2, 1)]
    assert a[("square", 1, 1)][3] == "_PythonDecoratedOperator"
    start, end = store.con.execute(
        "SELECT start_time, end_time FROM task_attempts WHERE task_id = 'flaky' AND try_number = 1").fetchall()[0]
    assert start == datetime(2026, 11, 25, 14, 8, 13, 702000, tzinfo=timezone.utc)
    assert end == datetime(2026, 11, 25, 14, 8, 13, 836000, tzinfo=timezone.utc)


def test_airflow2_connections_and_egress_hints(store, af2):
    ingest_paths(store, [af2 / "logs"])
    conns = store.con.execute(
        "SELECT task_id, conn_id, source_line FROM task_connections ORDER BY task_id, source_line").fetchall()
    assert conns == [("http_hook_post", "local_api", 13), ("http_operator_get", "local_api", 14),
                     ("http_operator_get", "local_api", 15)]
    hints = store.con.execute(
        "SELECT task_id, url, host, port, source_line FROM task_egress_hints ORDER BY source_line, port").fetchall()
    assert ("fetch_via_proxy", "http://127.0.0.1:8765/data.json?src=python", "127.0.0.1", 8765, 13) in hints
    assert ("fetch_via_proxy", "http://127.0.0.1:8765/data.json?src=python", "127.0.0.1", 8765, 14) in hints
    assert ("fetch_via_proxy", "http://127.0.0.1:8766", "127.0.0.1", 8766, 12) in hints   # the proxy
    # "{zsaudit_sample.py:32}"-style source locations are never hosts
    assert not store.con.execute("SELECT count(*) FROM task_egress_hints WHERE host LIKE '%.py'").fetchall()[0][0]


def test_airflow2_traceback_lines_are_kept_as_continuations(store, af2):
    ingest_paths(store, [af2 / "logs"])
    rows = store.con.execute(
        "SELECT source_line, level, source, continuation, message FROM airflow_log_lines "
        "WHERE log_file LIKE '%task_id=flaky/attempt=1.log' AND source_line IN (13, 14, 38) "
        "ORDER BY source_line").fetchall()
    assert rows[0] == (13, "ERROR", "taskinstance.py:3313", False, "Task failed with exception")
    assert rows[1] == (14, "ERROR", "taskinstance.py:3313", True, "Traceback (most recent call last):")
    assert rows[2][3] is True and rows[2][4] == "RuntimeError: deliberate failure on first try"
    total = store.con.execute("SELECT count(*) FROM airflow_log_lines").fetchall()[0][0]
    assert total == 351   # every line of the ten files


def test_airflow2_non_task_logs_are_not_taken_for_task_logs(store, af2):
    results = ingest_paths(store, [af2 / "logs"])
    assert not any("scheduler/" in r.path or "dag_processor_manager" in r.path for r in results)


def test_airflow2_scheduler_stdout_states_by_identity(store, af2):
    ingest_paths(store, [af2 / "component_stdout" / "scheduler.log"])
    a = _attempts(store)
    assert a[("flaky", -1, 1)][1] == "up_for_retry" and a[("flaky", -1, 1)][7] == "scheduler_stdout"
    assert a[("flaky", -1, 2)][1] == "success"
    assert a[("always_fail", -1, 1)][1] == "failed"


def test_airflow2_db_and_logs_merge_with_log_state_first(store, af2):
    ingest_paths(store, [af2 / "logs", af2 / "airflow.db"])
    a = _attempts(store)
    # the DB gives host and times; the log's "Marking task as UP_FOR_RETRY" gives the state
    assert a[("flaky", -1, 1)][:2] == ("vm", "up_for_retry")
    assert a[("flaky", -1, 1)][5:8] == ("metadata_db", "metadata_db", "log")
    assert len(a) == 10


def test_airflow3_logs_alone_have_no_host_for_failed_tries(store, af3):
    ingest_paths(store, [af3 / "logs"])
    a = _attempts(store, "manual_zsaudit_run2")
    # 3.x task files name the host only in the "Pushing xcom" repr, i.e. when the task returned a value
    assert a[("flaky", -1, 2)][:2] == ("vm", "success")
    assert a[("flaky", -1, 1)][:2] == (None, "failed")
    assert a[("always_fail", -1, 1)][1] == "failed"
    assert a[("http_operator_get", -1, 1)][3] == "HttpOperator"
    run1 = _attempts(store, RUN1)
    # the one-line attempt=1 of the proxy accident: never got going, the end is missing
    assert run1[("make_list", -1, 1)][1] == "unknown"


def test_airflow3_db_gives_hosts_states_and_times(store, af3):
    ingest_paths(store, [af3 / "logs", af3 / "airflow.db"])
    a = _attempts(store, "manual_zsaudit_run2")
    assert a[("flaky", -1, 1)][:2] == ("vm", "up_for_retry")    # history says failed; a later try exists
    assert a[("flaky", -1, 1)][5:8] == ("metadata_db", "metadata_db", "metadata_db")
    assert a[("always_fail", -1, 1)][:2] == ("vm", "failed")
    assert {k[1] for k in a if k[0] == "square"} == {0, 1, 2}
    run1 = _attempts(store, RUN1)
    assert run1[("make_list", -1, 1)][:2] == (None, "up_for_retry")   # DB: hostname '' and no start
    assert store.con.execute("SELECT count(*) FROM task_attempts").fetchall()[0][0] == 42
    start, end, ti = store.con.execute(
        "SELECT start_time, end_time, ti_id FROM task_attempts WHERE run_id = 'manual_zsaudit_run2' "
        "AND task_id = 'always_fail'").fetchall()[0]
    assert start == datetime(2026, 11, 25, 14, 6, 24, 554685, tzinfo=timezone.utc)
    assert end == datetime(2026, 11, 25, 14, 6, 24, 759261, tzinfo=timezone.utc)
    assert ti == "01a21307-554c-7e98-a226-0dcefc8bc3d6"


def test_airflow3_scheduler_and_api_server_stdout_join_by_ti_id(store, af3):
    std = af3 / "component_stdout"
    ingest_paths(store, [af3 / "logs", std / "scheduler.log", std / "api-server.log"])
    row = store.con.execute(
        "SELECT hostname, state, return_code, host_source, state_source FROM task_attempts "
        "WHERE run_id = 'manual_zsaudit_run2' AND task_id = 'flaky' AND try_number = 1").fetchall()[0]
    # the 3.x supervisor exits 0 even when the task failed: final_state carries the outcome
    assert row == ("vm", "up_for_retry", 0, "scheduler_stdout", "scheduler_stdout")


def test_airflow3_error_detail_and_debug_url(store, af3):
    ingest_paths(store, [af3 / "logs"])
    detail = store.con.execute(
        "SELECT detail FROM airflow_log_lines l JOIN task_attempts a USING (attempt_id) "
        "WHERE a.run_id = 'manual_zsaudit_run2' AND a.task_id = 'always_fail' AND l.detail IS NOT NULL").fetchall()
    assert detail == [("ValueError: deliberate permanent failure",)]
    hint = store.con.execute(
        "SELECT h.url, h.host, h.port, h.scheme FROM task_egress_hints h WHERE h.run_id = 'manual_zsaudit_run3_nsdebug' "
        "AND h.task_id = 'http_hook_post'").fetchall()
    assert ("http://127.0.0.1:8765/api/post", "127.0.0.1", 8765, "http") in hint


def test_rest_api_v2_collection_and_tries(store, af3):
    results = ingest_paths(store, [af3 / "api_v2_task_instances_run2.json", af3 / "api_v2_flaky_tries_run2.json"])
    assert [r.source_kind for r in results] == ["airflow_rest_api", "airflow_rest_api"]
    a = _attempts(store, "manual_zsaudit_run2")
    assert a[("flaky", -1, 1)][:2] == ("vm", "up_for_retry")
    assert a[("flaky", -1, 2)][:2] == ("vm", "success")
    assert a[("flaky", -1, 2)][5] == "rest_api"
    assert len(a) == 10   # nine task instances + the earlier try of flaky from /tries


def test_rest_api_v1_bare_list(store, af2):
    ingest_paths(store, [af2 / "api_v1_task_instances_list.json"])
    a = _attempts(store, RUN1)
    assert a[("always_fail", -1, 1)][:2] == ("vm", "failed")
    assert a[("square", 2, 1)][:2] == ("vm", "success")


def test_csv_dump_of_task_instance(store, af3):
    results = ingest_paths(store, [af3 / "task_instance_run3.csv"])
    assert results[0].source_kind == "airflow_ti_csv" and results[0].rows_loaded == 9
    a = _attempts(store, "manual_zsaudit_run3_nsdebug")
    assert a[("always_fail", -1, 1)][:2] == ("vm", "failed")
    assert a[("always_fail", -1, 1)][5] == "csv"
    start = store.con.execute("SELECT start_time FROM task_attempts WHERE task_id = 'always_fail' "
                              "AND run_id = 'manual_zsaudit_run3_nsdebug'").fetchall()[0][0]
    assert start == datetime(2026, 11, 25, 14, 9, 12, 42941, tzinfo=timezone.utc)


def test_whole_airflow_home_in_one_call(store, af3, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(af3, home)
    results = ingest_paths(store, [home])
    kinds = {r.source_kind for r in results}
    assert kinds == {"airflow_tasklog", "airflow_metadata_db", "airflow_rest_api", "airflow_ti_csv", "airflow_stdout"}
    assert store.con.execute("SELECT count(*) FROM task_attempts WHERE hostname IS NULL AND state <> 'up_for_retry'"
                             ).fetchall()[0][0] == 0
    # each attempt's sources: what observed it, sorted, each once (and the scheduler's events)
    rows = store.con.execute(
        "SELECT a.sources, list(DISTINCT s.source ORDER BY s.source) FROM task_attempts a "
        "JOIN task_attempt_sources s USING (attempt_id) GROUP BY a.attempt_id, a.sources").fetchall()
    assert len(rows) == 42 and any(len(observed) > 2 for _, observed in rows)
    assert any("scheduler_stdout" in sources for sources, _ in rows)
    for sources, observed in rows:
        assert sources == sorted(set(sources)) and set(observed) <= set(sources) <= {*observed, "scheduler_stdout"}


def test_same_inputs_twice_is_a_no_op(store, af3):
    first = ingest_paths(store, [af3 / "logs", af3 / "airflow.db"])
    counts = store.con.execute("SELECT (SELECT count(*) FROM airflow_log_lines), (SELECT count(*) FROM task_attempts), "
                               "(SELECT count(*) FROM ingest_ledger)").fetchall()
    again = ingest_paths(store, [af3 / "logs", af3 / "airflow.db"])
    assert not any(r.skipped for r in first)
    assert all(r.skipped for r in again)
    assert store.con.execute("SELECT (SELECT count(*) FROM airflow_log_lines), (SELECT count(*) FROM task_attempts), "
                             "(SELECT count(*) FROM ingest_ledger)").fetchall() == counts


def test_cli_ingest_airflow(tmp_path, af2):
    db = tmp_path / "z.duckdb"
    res = CliRunner().invoke(main, ["ingest", "airflow", str(af2 / "logs"), str(af2 / "airflow.db"), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "11 loaded" in res.output and "10 task attempts" in res.output


def test_cli_directory_without_task_logs_exits_2(tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello\n")
    res = CliRunner().invoke(main, ["ingest", "airflow", str(empty), "--db", str(tmp_path / "z.duckdb")])
    assert res.exit_code == 2
    assert str(empty) in res.output and "no Airflow task logs" in res.output


def test_synthetic_airflow_output_ingests(store, tmp_path):
    """The synth generator's Airflow 3 logs + REST v2 collection (the agreed API) load cleanly."""
    from zsaudit.synth import synthesize

    result = synthesize(tmp_path / "syn", requests=200, seed=3)
    files = ingest_paths(store, [tmp_path / "syn" / "airflow"])
    assert sum(r.rows_rejected for r in files) == 0
    assert {r.source_kind for r in files} == {"airflow_tasklog", "airflow_rest_api"}
    n, no_host, sources = store.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE hostname IS NULL), list(DISTINCT host_source) FROM task_attempts"
    ).fetchall()[0]
    assert n == result.attempts and no_host == 0 and sources == ["rest_api"]


def test_the_merge_plans_three_hash_aggregates(store):
    """merge_attempts.sql's rows in three hash aggregates (each costs ~1 ms however few its rows):
    a DISTINCT list aggregate cost two more and a join."""
    import re

    from zsaudit import queries

    store.con.execute("CREATE TEMP TABLE _af_touched (attempt_id VARCHAR)")
    plan = store.con.execute("EXPLAIN " + queries.statements("airflow/merge_attempts")[1]).fetchall()[0][1]
    assert len(re.findall(r"hash group by|hash_group_by", plan, re.I)) == 3
