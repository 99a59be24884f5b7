"""A task-log batch leaves out the inserts that would find nothing (airflow_logs._run_line_sql).

The reject, connection and empty-file inserts run only when the batch's counts say they have rows;
the egress scan only when a line may give a hint (airflow_logs._may_hold_hints, checked in Arrow
for a small batch). Here: a clean batch runs none of them, each runs when its input is there, and
every odd line the scan takes a hint from (every batch scanned) passes the check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fresh_store import new_store
from test_ingest_airflow_edge import RUN, SUCCESS_2X, task_log, v2, v3
from zsaudit import queries
from zsaudit.ingest import airflow_logs
from zsaudit.ingest.airflow import ingest_paths

SKIPPABLE = {"airflow/log_empty_files", "airflow/insert_log_rejects", "airflow/insert_log_connections",
             "airflow/insert_egress_hints"}


@pytest.fixture
def ran(monkeypatch):
    """The query files run, by name, in order."""
    names: list[str] = []
    run = queries.run

    def recording(con, name, *args, **kwargs):
        names.append(name)
        return run(con, name, *args, **kwargs)

    monkeypatch.setattr(queries, "run", recording)
    return names


def test_the_checks_are_the_egress_scans_own():
    sql = queries.load("airflow/insert_egress_hints")
    literal, port, pattern = airflow_logs.EGRESS_PREFILTER
    assert f"contains(raw, '{literal}') OR contains(raw, '{port}')" in sql
    assert f"regexp_matches(raw, '{pattern}')" in sql
    assert "text LIKE '%://%'" in sql and "text LIKE '%host=''%port=%'" in sql
    # the bare host:port the scan extracts, with "-" added to what may lead it (see EGRESS_BARE)
    assert airflow_logs.EGRESS_BARE.replace("@-]", "@]").replace("'", "''") in sql
    assert airflow_logs.EGRESS_MARKS == ("://", "host='")


def test_a_clean_small_batch_runs_no_insert_that_finds_nothing(store, tmp_path, ran):
    task_log(tmp_path).write_text(SUCCESS_2X)
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert (r.rows_loaded, r.rows_rejected) == (4, 0)
    assert "airflow/insert_log_sources" in ran and not SKIPPABLE & set(ran)
    assert store.con.execute("SELECT state FROM task_attempts").fetchall() == [("success",)]


@pytest.mark.parametrize("case, lines, step, table", [
    ("reject", ["garbage above any record\n", SUCCESS_2X], "airflow/insert_log_rejects", "rejects"),
    ("connection", [v2("2026-11-25T14:00:00.500+0000", "INFO", "Retrieving connection 'warehouse'")],
     "airflow/insert_log_connections", "task_connections"),
    ("url", [v2("2026-11-25T14:00:00.500+0000", "INFO", "GET https://api.example.com/v1 -> 200")],
     "airflow/insert_egress_hints", "task_egress_hints"),
    ("urllib3", [v2("2026-11-25T14:00:00.500+0000", "WARNING",
                    "Retrying: NewConnectionError(host='db.example.com', port=5432)")],
     "airflow/insert_egress_hints", "task_egress_hints"),
    ("host:port after a bare dash", ["[2026-11-25T14:00:00.500+0000] {x.py:1} INFO -db.example.com:5432 up\n"],
     "airflow/insert_egress_hints", "task_egress_hints"),
    ("host:port in ANSI colours", [v2("2026-11-25T14:00:00.500+0000", "INFO",
                                      "to \x1b[1mdb.example.com\x1b[0m:5432")],
     "airflow/insert_egress_hints", "task_egress_hints"),
    ("3.x kwargs", [v3("2026-11-25T14:00:00.500Z", "connected", target="cache.example.com:6379")],
     "airflow/insert_egress_hints", "task_egress_hints"),
])
def test_each_insert_runs_when_its_input_is_there(store, tmp_path, ran, case, lines, step, table):
    task_log(tmp_path).write_text("".join(lines))
    ingest_paths(store, [tmp_path / "logs"])
    assert step in ran
    assert store.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 1


def test_an_empty_log_beside_a_full_one_still_records_its_attempt(store, tmp_path, ran):
    task_log(tmp_path, task="full").write_text(SUCCESS_2X)
    task_log(tmp_path, task="empty").write_text("")
    ingest_paths(store, [tmp_path / "logs"])
    assert "airflow/log_empty_files" in ran
    assert store.con.execute("SELECT task_id, state FROM task_attempts ORDER BY 1").fetchall() == [
        ("empty", "unknown"), ("full", "success")]


# pieces of lines near what the egress scan looks for: hosts and ports it finds, and what it must not
_PIECES = ["api.example.com:443", "10.0.0.1:5432", "localhost:8080", "https://h.example.com/p", "s3://b/k",
           "host='db', port=5432", "host='x'", "port=1", "{taskinstance.py:12}", "a.py:3", "x.yz:9",
           "db.internal:99999", "-", " ", "'", '"', "(", "=", ",", "[", "]", "@", "x", "\x1b[0m", "\x1b[1m",
           "\r", ":", "7", ".", "://", "{", "}", "é", "\\"]
_text = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)


@st.composite
def _logs(draw):
    """A 2.x text log (records, a header with no space after its dash, continuation lines) or a
    3.x JSON one (values anywhere in the record), of a few lines."""
    lines = []
    for i in range(draw(st.integers(1, 5))):
        text = draw(_text)
        ts = f"2026-11-25T14:00:0{i}.000"
        if draw(st.booleans()):
            lines.append(v3(ts + "Z", text, **({"extra": draw(_text)} if draw(st.booleans()) else {})))
        else:
            kind = draw(st.sampled_from(["record", "tight", "continuation"]))
            lines.append({"record": v2(ts + "+0000", "INFO", text),
                          "tight": f"[{ts}+0000] {{{draw(_text)}:1}} INFO -{text}\n",
                          "continuation": text + "\n"}[kind])
    return "".join(lines)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """A store whose every batch is scanned for hints (the check off), and a counter of runs."""
    s = new_store(tmp_path_factory.mktemp("scanned") / "scanned.duckdb")
    yield s, iter(range(10**6))
    s.close()


def _may(line: str) -> bool:
    return airflow_logs._may_hold_hints(pa.table({"raw": pa.array([line], pa.large_string())}))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logs=st.lists(_logs(), min_size=1, max_size=8))
def test_every_line_the_scan_takes_a_hint_from_passes_the_check(scanned, tmp_path_factory, logs):
    """The check is per line (a batch is scanned when any line passes): each line that gives a
    hint, with every batch scanned, passes it alone."""
    store, runs = scanned
    root = tmp_path_factory.mktemp("odd")
    run = f"manual__{next(runs)}"
    for i, text in enumerate(logs):
        task_log(root, run=run, task=f"t{i}").write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(airflow_logs, "FEW_LINES", -1)       # every batch scanned, as before the check
        ingest_paths(store, [root / "logs"])
    hinted = store.con.execute("SELECT DISTINCT log_file, source_line FROM task_egress_hints WHERE run_id = ?",
                               [run]).fetchall()
    for log_file, line_no in hinted:
        line = Path(log_file).read_bytes().decode("utf-8", errors="backslashreplace").split("\n")[line_no - 1]
        assert _may(line), line


def test_the_check_finds_what_the_scan_finds():
    """Lines the scan takes a hint from pass the check alone; a 2.x header's source does not."""
    may = _may
    assert not may(SUCCESS_2X.splitlines()[0])          # {taskinstance.py:1} is no host
    assert not may(json.dumps({"timestamp": "2026-11-25T14:00:00.000Z", "event": "done", "run_id": RUN}))
    for line in ["see https://x.example.com", "NewConnectionError(host='db', port=1)",
                 "[t] {x.py:1} INFO -db.example.com:5432", "to db.example.com:5432 now",
                 # cleaned before the scan: its header's "e.py:1" passes the scan's prefilter
                 "[t] {taskinstance.py:1} INFO - to \x1b[1mdb.example.com\x1b[0m:5432"]:
        assert may(line), line
