"""Hand-made bad input for the Airflow ingest: each case must load what it can and never crash."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from zsaudit.errors import BadInput, BadUsage
from zsaudit.ingest import airflow_logs
from zsaudit.ingest.airflow import ingest_paths
from zsaudit.ingest.airflow_metadata import redact_url

RUN = "manual__2026-11-25T13:38:29.242859+00:00"


def task_log(root: Path, *, dag="d", run=RUN, task="t", try_number=1, map_index=-1) -> Path:
    rel = f"dag_id={dag}/run_id={run}/task_id={task}/"
    if map_index >= 0:
        rel += f"map_index={map_index}/"
    path = root / "logs" / rel / f"attempt={try_number}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def v2(ts: str, level: str, msg: str) -> str:
    return f"[{ts}] {{taskinstance.py:1}} {level} - {msg}\n"


def v3(ts: str, event: str, level="info", **kw) -> str:
    return json.dumps({"timestamp": ts, "level": level, "event": event, "logger": "task", **kw}) + "\n"


def attempts(store):
    return store.con.execute(
        "SELECT run_id, task_id, map_index, try_number, hostname, state, start_time, end_time "
        "FROM task_attempts ORDER BY run_id, task_id, map_index, try_number").fetchall()


SUCCESS_2X = (
    v2("2026-11-25T14:00:00.000+0000", "INFO", "Starting attempt 1 of 1")
    + v2("2026-11-25T14:00:00.100+0000", "INFO", f"Running <TaskInstance: d.t {RUN} [running]> on host worker-1")
    + v2("2026-11-25T14:00:01.000+0000", "INFO",
         "Marking task as SUCCESS. dag_id=d, task_id=t, run_id=r, execution_date=20261125T140000, "
         "start_date=20261125T140000, end_date=20261125T140001")
    + v2("2026-11-25T14:00:01.100+0000", "INFO", "Task exited with return code 0")
)


def test_non_utf8_bytes_are_kept_visible(store, tmp_path):
    p = task_log(tmp_path)
    p.write_bytes(SUCCESS_2X.encode() + b"[2026-11-25T14:00:02.000+0000] {x.py:1} INFO - caf\xe9 \xff\xfe done\n")
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (5, 5, 0)
    msg = store.con.execute("SELECT message FROM airflow_log_lines WHERE source_line = 5").fetchall()[0][0]
    assert msg == "caf\\xe9 \\xff\\xfe done"


def test_ansi_colour_codes_are_stripped(store, tmp_path):
    p = task_log(tmp_path)
    p.write_text("".join("\x1b[32m" + line.replace(" INFO ", " \x1b[1mINFO\x1b[0m ") + "" for line in
                         SUCCESS_2X.splitlines(keepends=True)))
    ingest_paths(store, [tmp_path / "logs"])
    assert attempts(store)[0][4:6] == ("worker-1", "success")
    assert store.con.execute("SELECT DISTINCT level FROM airflow_log_lines").fetchall() == [("INFO",)]


def test_truncated_2x_log_has_state_unknown(store, tmp_path):
    p = task_log(tmp_path)
    p.write_text(SUCCESS_2X.split("Marking")[0].rsplit("\n", 1)[0] + "\n[2026-11-25T14:00:00.5")
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert r.lines_read == r.rows_loaded + r.rows_rejected == 3
    assert attempts(store)[0][4:6] == ("worker-1", "unknown")


def test_truncated_3x_log_rejects_the_cut_line_and_state_is_unknown(store, tmp_path):
    p = task_log(tmp_path)
    p.write_text(v3("2026-11-25T14:00:00.000001Z", "::group::Pre Execute")
                 + v3("2026-11-25T14:00:00.5Z", "fetching https://api.example.com/x")
                 + '{"timestamp":"2026-11-25T14:00:01Z","level":"in')
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    (reason,) = store.con.execute("SELECT reason FROM rejects WHERE source_line = 3").fetchall()[0]
    assert reason.startswith("truncated last line")
    assert attempts(store)[0][5] == "unknown"
    assert store.con.execute("SELECT host, port FROM task_egress_hints").fetchall() == [("api.example.com", 443)]


def test_interleaved_retries_in_one_3x_file_go_to_their_own_attempts(store, tmp_path):
    p = task_log(tmp_path, try_number=1)
    ident = {"dag_id": "d", "run_id": RUN, "task_id": "t", "map_index": -1}
    lines = [v3("2026-11-25T14:00:00Z", "::group::Pre Execute")]
    for i in range(4):
        for try_number in (1, 2):
            lines.append(v3(f"2026-11-25T14:00:0{i + 1}Z", f"step {i} of try {try_number}",
                            try_number=try_number, **ident))
    lines.append(v3("2026-11-25T14:00:09Z", "::group::Post Execute", try_number=2, **ident))
    p.write_text("".join(lines))
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert r.rows_loaded == 10
    per_try = store.con.execute(
        "SELECT a.try_number, count(*) FROM airflow_log_lines l JOIN task_attempts a USING (attempt_id) "
        "GROUP BY 1 ORDER BY 1").fetchall()
    assert per_try == [(1, 5), (2, 5)]
    states = {row[3]: row[5] for row in attempts(store)}
    assert states == {1: "unknown", 2: "success"}


def test_clock_jump_backwards_keeps_lines_and_widest_span(store, tmp_path):
    p = task_log(tmp_path)
    p.write_text(v2("2026-11-25T14:00:05.000+0000", "INFO", "before the jump")
                 + v2("2026-11-25T13:59:00.000+0000", "INFO", "after NTP stepped the clock back")
                 + v2("2026-11-25T14:00:06.000+0000", "INFO", "Task exited with return code 0"))
    ingest_paths(store, [tmp_path / "logs"])
    (row,) = attempts(store)
    assert row[5] == "success"
    assert row[6] == datetime(2026, 11, 25, 13, 59, tzinfo=timezone.utc)
    assert row[7] == datetime(2026, 11, 25, 14, 0, 6, tzinfo=timezone.utc)
    assert store.con.execute("SELECT count(*) FROM airflow_log_lines").fetchall()[0][0] == 3


def test_older_2x_timestamps_without_zone_use_tz_and_legacy_layout(store, tmp_path):
    p = tmp_path / "logs" / "old_dag" / "old_task" / "2024-01-01T00:00:00+00:00" / "2.log"
    p.parent.mkdir(parents=True)
    p.write_text("[2024-01-01 01:00:00,123] {models.py:1} INFO - Executing <Task(BashOperator): old_task> on 2024-01-01\n"
                 "[2024-01-01 01:00:00,200] {base.py:1} INFO - Using connection ID 'legacy_db' for task execution.\n"
                 "[2024-01-01 01:00:01,000] {taskinstance.py:1} INFO - Exporting env vars: AIRFLOW_CTX_DAG_ID=old_dag "
                 "AIRFLOW_CTX_DAG_RUN_ID=scheduled__2024-01-01T00:00:00+00:00\n"
                 "[2024-01-01, 01:00:02 UTC] {ui.py:1} INFO - the web UI form\n")
    ingest_paths(store, [tmp_path / "logs"], tz="Europe/Paris")
    row = store.con.execute("SELECT run_id, task_id, try_number, operator, start_time, end_time FROM task_attempts"
                            ).fetchall()[0]
    assert row[:4] == ("scheduled__2024-01-01T00:00:00+00:00", "old_task", 2, "BashOperator")
    assert row[4] == datetime(2024, 1, 1, 0, 0, 0, 123000, tzinfo=timezone.utc)   # 01:00 Paris = 00:00 UTC
    assert row[5] == datetime(2024, 1, 1, 1, 0, 2, tzinfo=timezone.utc)           # the UI form says UTC
    assert store.con.execute("SELECT conn_id FROM task_connections").fetchall() == [("legacy_db",)]


def test_custom_template_from_airflow_cfg(store, tmp_path):
    template = "{{ ti.dag_id }}/{{ ti.run_id }}/{{ ti.task_id }}{% if ti.map_index >= 0 %}.{{ ti.map_index }}{% endif %}--{{ try_number }}.txt"
    p = tmp_path / "tree" / "d" / "run:1+x" / "t.3--2.txt"
    p.parent.mkdir(parents=True)
    p.write_text(SUCCESS_2X)
    (tmp_path / "tree" / "d" / "stray.log").write_text("not a task log\n")
    results = ingest_paths(store, [tmp_path / "tree"], template=template)
    assert attempts(store)[0][:4] == ("run:1+x", "t", 3, 2)
    (stray,) = [r for r in results if r.path.endswith("stray.log")]
    assert "does not fit" in stray.note and template in stray.note and "stray.log" in stray.note


def test_explicit_file_that_fits_no_template_is_refused_with_path_and_template(store, tmp_path):
    p = tmp_path / "some.log"
    p.write_text(SUCCESS_2X)
    with pytest.raises(BadInput) as exc:
        ingest_paths(store, [p], template="{{ ti.dag_id }}/{{ ti.run_id }}/{{ ti.task_id }}/{{ try_number }}.log")
    assert str(p) in str(exc.value) and "{{ ti.dag_id }}/{{ ti.run_id }}" in str(exc.value)


def test_bad_template_is_a_usage_error(store, tmp_path):
    with pytest.raises(BadUsage):
        ingest_paths(store, [tmp_path], template="{{ ti.dag_id }/x.log")


def test_directory_without_task_logs_names_it(store, tmp_path):
    (tmp_path / "logs" / "scheduler").mkdir(parents=True)
    (tmp_path / "logs" / "scheduler" / "x.py.log").write_text("[2026-11-25T14:00:00.000+0000] {a.py:1} INFO - hi\n")
    (tmp_path / "logs" / "random.log").write_text("hello\n")
    with pytest.raises(BadInput) as exc:
        ingest_paths(store, [tmp_path / "logs"])
    assert str(tmp_path / "logs") in str(exc.value) and "random.log" in str(exc.value)


def test_missing_path_is_bad_input(store, tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        ingest_paths(store, [tmp_path / "nope"])


def test_grown_log_replaces_that_attempts_rows_and_same_file_is_a_no_op(store, tmp_path):
    p = task_log(tmp_path)
    head = SUCCESS_2X.split("Marking")[0].rsplit("\n", 1)[0] + "\n"
    p.write_text(head)
    ingest_paths(store, [tmp_path / "logs"])
    assert attempts(store)[0][5] == "unknown"
    p.write_text(SUCCESS_2X)                                     # the running task wrote on
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert r.replaced and r.rows_loaded == 4
    assert attempts(store)[0][5] == "success"
    assert store.con.execute("SELECT count(*) FROM airflow_log_lines").fetchall()[0][0] == 4
    ledger = store.con.execute("SELECT lines_read, status FROM ingest_ledger").fetchall()
    assert ledger == [(4, "replaced")]
    (again,) = ingest_paths(store, [tmp_path / "logs"])
    assert again.skipped
    assert store.con.execute("SELECT count(*) FROM airflow_log_lines").fetchall()[0][0] == 4


def test_empty_attempt_log_still_records_the_attempt(store, tmp_path):
    task_log(tmp_path, try_number=3).write_text("")
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (0, 0, 0)
    assert attempts(store)[0][3:6] == (3, None, "unknown")


def test_lines_before_any_record_and_garbage_are_rejected_with_reason(store, tmp_path):
    p = task_log(tmp_path)
    p.write_text("garbage before the first record\n" + SUCCESS_2X)
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (5, 4, 1)
    raw, reason = store.con.execute("SELECT raw, reason FROM rejects").fetchall()[0]
    assert raw == "garbage before the first record" and "no Airflow task-log record above" in reason


def test_credentials_in_urls_are_redacted_and_hosts_lowercased(store, tmp_path):
    p = task_log(tmp_path)
    p.write_text(v2("2026-11-25T14:00:00.000+0000", "INFO",
                    "GET https://svc:S3cret@API.Example.COM:8443/v1?x=1, then db.internal.example:5432 "
                    "and HTTPSConnectionPool(host='files.example.net', port=443): Max retries")
                 + v2("2026-11-25T14:00:01.000+0000", "INFO", "see dag.py:12 and 10.0.0.5:99999"))
    ingest_paths(store, [tmp_path / "logs"])
    hints = store.con.execute("SELECT url, host, port FROM task_egress_hints ORDER BY host").fetchall()
    assert hints == [("https://svc:***@API.Example.COM:8443/v1?x=1", "api.example.com", 8443),
                     (None, "db.internal.example", 5432),
                     (None, "files.example.net", 443)]
    assert "S3cret" not in str(hints)


def _fail_batches_with_poison(monkeypatch):
    """Make every batch that holds a log of task `poison` fail inside its transaction, after the inserts."""
    real = airflow_logs.merge_touched

    def failing_merge(con):
        real(con)
        if con.execute("SELECT count(*) FROM _af_files WHERE log_file LIKE '%poison%'").fetchall()[0][0]:
            raise RuntimeError("disk full")

    monkeypatch.setattr(airflow_logs, "merge_touched", failing_merge)


def test_a_file_that_breaks_the_batch_leaves_no_rows_and_the_others_load(store, tmp_path, monkeypatch):
    good = task_log(tmp_path, task="good")
    good.write_text(SUCCESS_2X)
    bad = task_log(tmp_path, task="poison")
    bad.write_text(SUCCESS_2X)
    _fail_batches_with_poison(monkeypatch)
    results = ingest_paths(store, [tmp_path / "logs"])
    by_task = {Path(r.path).parent.name: r for r in results}
    assert by_task["task_id=good"].rows_loaded == 4
    assert "no rows kept" in by_task["task_id=poison"].note
    assert store.con.execute("SELECT DISTINCT task_id FROM task_attempts").fetchall() == [("good",)]
    assert store.con.execute("SELECT count(*) FROM airflow_log_lines").fetchall()[0][0] == 4


def test_rest_export_with_bad_rows_rejects_them(store, tmp_path):
    p = tmp_path / "tis.json"
    p.write_text(json.dumps({"task_instances": [
        {"dag_id": "d", "dag_run_id": "r", "task_id": "t", "try_number": 1, "map_index": -1, "hostname": "w",
         "state": "success", "start_date": "2026-11-25T14:00:00+00:00", "end_date": None},
        {"dag_id": "d", "dag_run_id": "r", "task_id": "t2", "try_number": 0, "state": "scheduled"},
        {"dag_id": "d", "task_id": "t3", "try_number": 1},
    ], "total_entries": 3}))
    (r,) = ingest_paths(store, [p])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (3, 1, 2)
    reasons = [x[0] for x in store.con.execute("SELECT reason FROM rejects ORDER BY source_line").fetchall()]
    assert reasons[0].startswith("no attempt yet (try_number 0") and reasons[1].startswith("missing dag_id")


def test_invalid_json_export_is_bad_input(store, tmp_path):
    p = tmp_path / "tis.json"
    p.write_text('{"task_instances": [{"task_id": "t", ')
    with pytest.raises(BadInput, match="tis.json"):
        ingest_paths(store, [p])


def test_not_a_metadata_sqlite_is_bad_input(store, tmp_path):
    import sqlite3

    p = tmp_path / "other.db"
    sqlite3.connect(p).execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(BadInput, match="no task_instance table"):
        ingest_paths(store, [p])


def test_postgres_url_password_is_redacted():
    assert redact_url("postgresql://airflow:pw@db:5432/airflow") == "postgresql://airflow:***@db:5432/airflow"


def test_tz_applies_to_naive_log_times_not_to_metadata(store, tmp_path):
    p = tmp_path / "tis.csv"
    p.write_text("dag_id,run_id,task_id,map_index,try_number,hostname,start_date,end_date,state\n"
                 "d,r,t,-1,1,w1,2026-11-25 14:00:00.000000,2026-11-25 14:00:05.000000,success\n")
    ingest_paths(store, [p], tz="America/New_York")
    start = store.con.execute("SELECT start_time FROM task_attempts").fetchall()[0][0]
    assert start == datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)   # Airflow's DB stores UTC


def _tree_of_small_logs(root: Path, n: int) -> None:
    for i in range(n):
        task_log(root, task=f"t{i}").write_text(SUCCESS_2X)
        task_log(root, task=f"j{i}").write_text(
            v3("2026-11-25T14:00:00.000000Z", "fetched https://API.example.com/v1 status 200", dag_id="d",
               run_id=RUN, task_id=f"j{i}", try_number=1, map_index=-1)
            + v3("2026-11-25T14:00:01.000000Z", "::group::Post Execute"))


TABLES = ["airflow_log_lines", "task_egress_hints", "task_connections", "task_attempt_sources", "task_attempts",
          "airflow_log_files", "rejects"]


def test_many_batches_on_both_workers_load_the_same_rows_as_one_batch(tmp_path, monkeypatch):
    from zsaudit.store import Store

    _tree_of_small_logs(tmp_path, 5)
    dumps = []
    # one batch; five batches of 2 files over the two workers; one batch read in parts of one file
    # (each batch or part ~0.2 CPU-s of statements whatever its size: 10 files cross every seam)
    for batch, max_bytes in ((1000, 1 << 30), (2, 1 << 30), (1000, 1)):
        monkeypatch.setattr(airflow_logs, "BATCH_FILES", batch)
        monkeypatch.setattr(airflow_logs, "BATCH_BYTES", max_bytes)
        with Store(tmp_path / f"b{batch}-{max_bytes}.duckdb") as s:
            results = ingest_paths(s, [tmp_path / "logs"])
            assert len(results) == 10 and all(r.rows_loaded > 0 and not r.warnings for r in results)
            dumps.append({t: sorted(map(repr, s.con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES})
            again = ingest_paths(s, [tmp_path / "logs"])
            assert all(r.skipped for r in again)            # the same files again: a no-op
    assert dumps[0] == dumps[1] == dumps[2]
    assert len(dumps[0]["task_attempts"]) == 10 and len(dumps[0]["task_egress_hints"]) == 5


def test_a_failing_batch_among_many_is_split_and_the_others_load(store, tmp_path, monkeypatch):
    _tree_of_small_logs(tmp_path, 5)
    task_log(tmp_path, task="poison").write_text(SUCCESS_2X)
    monkeypatch.setattr(airflow_logs, "BATCH_FILES", 2)
    _fail_batches_with_poison(monkeypatch)
    results = ingest_paths(store, [tmp_path / "logs"])
    by_task = {Path(r.path).parent.name: r for r in results}
    assert len(by_task) == 11
    assert "no rows kept" in by_task["task_id=poison"].note
    assert all(r.rows_loaded > 0 for name, r in by_task.items() if name != "task_id=poison")
    assert store.con.execute("SELECT count(*) FROM task_attempts").fetchall()[0][0] == 10
    assert store.con.execute("SELECT count(*) FROM ingest_ledger").fetchall()[0][0] == 10


@pytest.mark.parametrize("body", [
    # Airflow 2 (API v1): the log text as one string
    {"continuation_token": "eyJlbmRfb2ZfbG9nIjp0cnVlfQ==",
     "content": "[('worker-1', '[2026-11-24, 16:00:20 UTC] {taskinstance.py:1157} INFO - Dependencies all met "
                "for dag_id=billing_export, task_id=push, run_id=scheduled__2026-11-24T00:00:00+00:00, "
                "map_index=-1, try_number=1')]"},
    # Airflow 3 (API v2): structured events
    {"content": [{"timestamp": "2026-11-24T16:00:20Z", "event": "Task started", "dag_id": "billing_export",
                  "task_id": "push", "run_id": "r1"}], "continuation_token": None},
])
def test_rest_api_logs_response_is_named_in_the_error(store, tmp_path, body):
    """A saved GET .../logs/{try} response is refused as what it is, not "a CSV" (issue 13, class 7)."""
    f = tmp_path / "logs.json"
    f.write_text(json.dumps(body))
    with pytest.raises(BadInput) as err:
        ingest_paths(store, [f])
    assert "REST API task-log response" in str(err.value)
    assert "CSV" not in str(err.value)


@pytest.mark.parametrize("workers", [1, 2])
def test_task_logs_load_without_macros_on_the_stores_connection(store, tmp_path, workers):
    """The log path parses and commits on the workers' cursors (each creates the af_* macros it
    uses): the store's own connection needs none, so none is created there (~5 ms an ingest)."""
    task_log(tmp_path).write_text(SUCCESS_2X)
    task_log(tmp_path, task="u").write_text(SUCCESS_2X.replace("d.t ", "d.u "))
    results = ingest_paths(store, [tmp_path / "logs"], workers=workers)
    assert sorted((r.lines_read, r.rows_loaded, r.rows_rejected) for r in results) == [(4, 4, 0)] * 2
    assert [a[1:6] for a in attempts(store)] == [("t", -1, 1, "worker-1", "success"), ("u", -1, 1, "worker-1", "success")]
    assert store.con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE 'af\\_%' ESCAPE '\\'"
                             ).fetchone() == (0,)
