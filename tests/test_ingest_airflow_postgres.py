"""The PostgreSQL metadata path against a real PostgreSQL server holding the 3.3.2 sample rows."""

from __future__ import annotations

import importlib.util
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from zsaudit.errors import BadInput
from zsaudit.ingest.airflow import ingest_paths

# tests/postgres.py by file path, so neither the cwd nor a tests/__init__.py matters
_spec = importlib.util.spec_from_file_location("zsaudit_tests_postgres", Path(__file__).with_name("postgres.py"))
_pgmod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pgmod)
PostgresServer, find_bin_dir = _pgmod.PostgresServer, _pgmod.find_bin_dir

pytestmark = pytest.mark.postgres
psycopg = pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")

FIXTURE_DB = Path(__file__).resolve().parent.parent / "fixtures" / "airflow" / "3.3.2" / "airflow.db"

# Airflow 3.3.2's task_instance / task_instance_history, the columns zsaudit reads plus a few more
# with the PostgreSQL types Airflow's migrations create (uuid ids, timestamptz dates).
DDL = """
CREATE TABLE task_instance (
    id uuid PRIMARY KEY, task_id varchar(250) NOT NULL, dag_id varchar(250) NOT NULL,
    run_id varchar(250) NOT NULL, map_index integer NOT NULL DEFAULT -1,
    start_date timestamptz, end_date timestamptz, duration double precision, state varchar(20),
    try_number integer, max_tries integer, hostname varchar(1000), unixname varchar(1000),
    pool varchar(256), queue varchar(256), operator varchar(1000));
CREATE TABLE task_instance_history (
    task_instance_id uuid NOT NULL, task_id varchar(250) NOT NULL, dag_id varchar(250) NOT NULL,
    run_id varchar(250) NOT NULL, map_index integer NOT NULL DEFAULT -1, try_number integer NOT NULL,
    start_date timestamptz, end_date timestamptz, duration double precision, state varchar(20),
    max_tries integer, hostname varchar(1000), unixname varchar(1000), pool varchar(256),
    queue varchar(256), operator varchar(1000));
"""
COLS = ["task_id", "dag_id", "run_id", "map_index", "start_date", "end_date", "duration", "state",
        "try_number", "max_tries", "hostname", "unixname", "pool", "queue", "operator"]


@pytest.fixture(scope="module")
def pg():
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed; .ci/run installs postgresql")
    server = PostgresServer(bin_dir).start()
    try:
        with psycopg.connect(server.url(), autocommit=True) as con:
            con.execute("CREATE DATABASE airflow_meta")
            con.execute("CREATE DATABASE not_airflow")
        src = sqlite3.connect(f"file:{FIXTURE_DB}?mode=ro", uri=True)
        with psycopg.connect(server.url("airflow_meta")) as con:
            con.execute(DDL)
            for table, id_col in (("task_instance", "id"), ("task_instance_history", "task_instance_id")):
                rows = src.execute(f"SELECT {id_col}, {', '.join(COLS)} FROM {table}").fetchall()
                with con.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO {table} ({id_col}, {', '.join(COLS)}) VALUES "
                        f"(%s::uuid, {', '.join(['%s'] * len(COLS))})",
                        [(r[0], *[(v + "+00" if c in ("start_date", "end_date") and v else v)
                                  for c, v in zip(COLS, r[1:])]) for r in rows])
        src.close()
        yield server
    finally:
        server.stop()


def test_postgres_metadata_db_gives_hosts_states_and_times(store, pg):
    (result,) = ingest_paths(store, [pg.url("airflow_meta")])
    assert result.source_kind == "airflow_metadata_db"
    assert (result.lines_read, result.rows_loaded, result.rows_rejected) == (42, 42, 0)
    rows = store.con.execute(
        "SELECT task_id, try_number, hostname, state, host_source, state_source, ti_id, start_time FROM task_attempts "
        "WHERE run_id = 'manual_zsaudit_run2' AND task_id IN ('flaky', 'always_fail') ORDER BY task_id, try_number"
    ).fetchall()
    assert rows == [
        ("always_fail", 1, "vm", "failed", "metadata_db", "metadata_db", "01a21307-554c-7e98-a226-0dcefc8bc3d6",
         datetime(2026, 11, 25, 14, 6, 24, 554685, tzinfo=timezone.utc)),
        ("flaky", 1, "vm", "up_for_retry", "metadata_db", "metadata_db", "01a21307-554b-799e-b123-428f6bcd3c39",
         datetime(2026, 11, 25, 14, 6, 21, 733460, tzinfo=timezone.utc)),
        ("flaky", 2, "vm", "success", "metadata_db", "metadata_db", "01a21307-66fe-731a-9dd0-27bb5a078e82",
         datetime(2026, 11, 25, 14, 6, 23, 500217, tzinfo=timezone.utc)),
    ]
    assert store.con.execute("SELECT count(*) FROM task_attempts").fetchall()[0][0] == 42


def test_postgres_and_logs_join_by_identity(store, pg, fixtures):
    ingest_paths(store, [fixtures / "airflow" / "3.3.2" / "logs", pg.url("airflow_meta")])
    row = store.con.execute(
        "SELECT hostname, state, sources FROM task_attempts WHERE run_id = 'manual_zsaudit_run1' "
        "AND task_id = 'make_list' AND try_number = 2").fetchall()[0]
    assert row == ("vm", "success", ["log", "metadata_db"])


def test_postgres_password_never_reaches_the_ledger_and_reingest_is_a_no_op(store, pg):
    url = pg.url("airflow_meta", password="S3cretPassw0rd")    # trust auth ignores it
    (first,) = ingest_paths(store, [url])
    (again,) = ingest_paths(store, [url])
    assert again.skipped and not first.skipped
    paths = [r[0] for r in store.con.execute("SELECT path FROM ingest_ledger").fetchall()]
    assert paths == [f"postgresql://{pg.user}:***@127.0.0.1:{pg.port}/airflow_meta"]


def test_postgres_db_without_airflow_tables_is_bad_input(store, pg):
    with pytest.raises(BadInput, match="not an Airflow metadata DB"):
        ingest_paths(store, [pg.url("not_airflow")])


def test_unreachable_postgres_is_bad_input_without_password(store):
    with pytest.raises(BadInput) as exc:
        ingest_paths(store, ["postgresql://airflow:hunter2@127.0.0.1:1/airflow"])
    assert "hunter2" not in str(exc.value) and "***" in str(exc.value)
