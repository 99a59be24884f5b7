"""Airflow metadata sources: what logs don't say (Airflow 3 task files carry no host, no state).

- metadata DB: `task_instance` + `task_instance_history` of an SQLite file (stdlib sqlite3,
  read-only) or a PostgreSQL database (`postgresql://...`, psycopg from the `postgres` extra);
- REST API task-instance JSON: v1 (Airflow 2) and v2 (Airflow 3), collections
  (`{"task_instances": [...], "total_entries": N}`, also `/tries`), a bare list or one object;
- a CSV dump of `task_instance` (header row);
- scheduler / API-server stdout: 3.x `Workload finished ... final_state=` and `Task started ...
  hostname=` lines (by ti_id), 2.x `TaskInstance Finished: dag_id=..., state=...` lines.

Each becomes rows of one shape (_TI_COLUMNS) loaded by queries/airflow/load_ti_rows.sql.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pyarrow as pa

from .. import queries
from ..errors import BadInput
from . import ledger
from .airflow_logs import merge_touched, replace_files
from .ledger import FileResult, insert_rejects, now_utc, sha256_file

STDOUT_MARKERS = ("Workload finished", "TaskInstance Finished:", "Task started", "Received executor event")
_TI_COLUMNS = ["row_no", "dag_id", "run_id", "task_id", "map_index", "try_number", "ti_id", "hostname",
               "start_date", "end_date", "state", "operator", "max_tries", "executor", "queue", "is_history"]
_KIND_SOURCE = {"metadata_db": "metadata_db", "postgres": "metadata_db", "rest_api": "rest_api",
                "csv": "csv", "scheduler_stdout": "scheduler_stdout"}
_LEDGER_KIND = {"metadata_db": "airflow_metadata_db", "postgres": "airflow_metadata_db",
                "rest_api": "airflow_rest_api", "csv": "airflow_ti_csv", "scheduler_stdout": "airflow_stdout"}


def is_postgres_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://"))


def redact_url(url: str) -> str:
    """A DB URL without its password (it goes into the ledger and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))


def _str(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def _table(rows: list[list]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [[] for _ in _TI_COLUMNS]
    arrays = {}
    for name, values in zip(_TI_COLUMNS, cols):
        if name == "row_no":
            arrays[name] = pa.array(values, pa.int64())
        elif name == "is_history":
            arrays[name] = pa.array(values, pa.bool_())
        else:
            arrays[name] = pa.array([_str(v) for v in values], pa.string())
    return pa.table(arrays)


# -- readers ---------------------------------------------------------------------------------
_DB_FIELDS = ["dag_id", "run_id", "task_id", "map_index", "try_number", "hostname", "start_date",
              "end_date", "state", "operator", "max_tries", "executor", "queue"]


def _select_sql(table: str, cols: set[str], id_col: str | None, cast_text: str) -> str:
    parts = []
    for name in _DB_FIELDS:
        parts.append(f"CAST({name} AS {cast_text})" if name in cols else "NULL")
    parts.insert(5, f"CAST({id_col} AS {cast_text})" if id_col else "NULL")
    return f"SELECT {', '.join(parts)} FROM {table}"  # noqa: S608 - fixed identifiers only


def _id_column(table: str, cols: set[str]) -> str | None:
    if table == "task_instance_history":
        return "task_instance_id" if "task_instance_id" in cols else None
    return "id" if "id" in cols else None   # Airflow 3 UUID; 2.x has no id on task_instance


def read_sqlite(path: Path) -> tuple[list[list], int]:
    uri = f"file:{quote(path.resolve().as_posix())}"
    try:
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True)
        con.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error:
        # a WAL database in a read-only place cannot get its -shm file: read the file as is
        try:
            con = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error as exc:
            raise BadInput(f"{path}: cannot open as an SQLite database ({exc})") from exc
    try:
        rows: list[list] = []
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "task_instance" not in tables:
            raise BadInput(f"{path}: an SQLite file, but not an Airflow metadata DB (no task_instance table)")
        for table in ("task_instance", "task_instance_history"):
            if table not in tables:
                continue
            cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            for rec in con.execute(_select_sql(table, cols, _id_column(table, cols), "TEXT")):
                rows.append([len(rows) + 1, *rec, table == "task_instance_history"])
        return rows, len(rows)
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"{path}: cannot read the Airflow metadata DB ({exc})") from exc
    finally:
        con.close()


def read_postgres(url: str) -> list[list]:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BadInput(f"{redact_url(url)}: reading a PostgreSQL metadata DB needs the postgres extra: "
                       "pip install 'zsaudit[postgres]'") from exc
    dsn = re.sub(r"^postgres(ql)?(\+psycopg2?)?://", "postgresql://", url)
    try:
        with psycopg.connect(dsn, connect_timeout=10) as con:
            con.read_only = True
            rows: list[list] = []
            with con.cursor() as cur:
                cur.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema() "
                            "AND table_name IN ('task_instance', 'task_instance_history')")
                cols: dict[str, set[str]] = {}
                for t, c in cur.fetchall():
                    cols.setdefault(t, set()).add(c)
                if "task_instance" not in cols:
                    raise BadInput(f"{redact_url(url)}: not an Airflow metadata DB (no task_instance table "
                                   "in the current schema)")
                for table in ("task_instance", "task_instance_history"):
                    if table not in cols:
                        continue
                    cur.execute(_select_sql(table, cols[table], _id_column(table, cols[table]), "TEXT"))
                    for rec in cur.fetchall():
                        rows.append([len(rows) + 1, *rec, table == "task_instance_history"])
            return rows
    except psycopg.Error as exc:
        raise BadInput(f"{redact_url(url)}: cannot read the PostgreSQL metadata DB ({exc})") from exc


_API_KEYS = {
    "dag_id": ("dag_id",), "run_id": ("dag_run_id", "run_id"), "task_id": ("task_id",),
    "map_index": ("map_index",), "try_number": ("try_number",), "ti_id": ("id", "task_instance_id", "ti_id"),
    "hostname": ("hostname",), "start_date": ("start_date",), "end_date": ("end_date",),
    "state": ("state",), "operator": ("operator", "operator_name"), "max_tries": ("max_tries",),
    "executor": ("executor",), "queue": ("queue",),
}


def read_rest_json(path: Path) -> list[list]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except (ValueError, OSError) as exc:
        raise BadInput(f"{path}: not valid JSON ({exc}); expected a REST API task-instance export "
                       '{"task_instances": [...], "total_entries": N} or a list of task instances') from exc
    if isinstance(data, dict) and isinstance(data.get("task_instances"), list):
        items = data["task_instances"]
    elif isinstance(data, list):
        items = data
    elif isinstance(data, dict) and "task_id" in data:
        items = [data]
    else:
        raise BadInput(f"{path}: JSON without a 'task_instances' list; expected a REST API task-instance "
                       'export {"task_instances": [...], "total_entries": N} or a list of task instances')
    rows = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            rows.append([i] + [None] * (len(_TI_COLUMNS) - 2) + [False])
            continue
        rec = [i]
        for name in ["dag_id", "run_id", "task_id", "map_index", "try_number", "ti_id", "hostname",
                     "start_date", "end_date", "state", "operator", "max_tries", "executor", "queue"]:
            rec.append(next((item[k] for k in _API_KEYS[name] if item.get(k) is not None), None))
        # an id that is not a UUID (2.x history ids are integers) is no ti_id
        if rec[6] is not None and not re.fullmatch(r"[0-9a-fA-F-]{32,36}", str(rec[6])):
            rec[6] = None
        rec.append(False)
        rows.append(rec)
    return rows


def ingest_source(store, kind: str, where, *, tz: str = "UTC") -> FileResult:
    """Load one metadata source (kind as told by airflow.sniff) in one transaction."""
    started = now_utc()
    con = store.con
    queries.run(con, "airflow/macros")
    if kind == "postgres":
        rows = read_postgres(where)
        blob = json.dumps(rows, default=str, sort_keys=True).encode()
        sha = hashlib.sha256(blob).hexdigest()
        display, size = redact_url(where), None
    else:
        path = Path(where)
        sha, display, size = sha256_file(path), str(path), path.stat().st_size
        rows = None
    source = _KIND_SOURCE[kind]
    ledger_kind = _LEDGER_KIND[kind]
    file_id = hashlib.sha256(f"{ledger_kind}|{sha}".encode()).hexdigest()
    if queries.scalar(con, "ingest/ledger_has_file", {"file_id": file_id}):
        return FileResult(path=display, sha256=sha, source_kind=ledger_kind, format=kind, skipped=True)
    if kind == "metadata_db":
        rows, _ = read_sqlite(path)
    elif kind == "rest_api":
        rows = read_rest_json(path)
    result = FileResult(path=display, sha256=sha, source_kind=ledger_kind, format=kind)
    with store.transaction():
        old = [r[0] for r in queries.cursor(con, "ingest/ledger_replaced_files", {
            "path": display, "source_kind": ledger_kind, "file_id": file_id}).fetchall()]
        queries.run(con, "airflow/touched_start")
        if old:
            replace_files(con, old)
            result.replaced = True
        if kind == "scheduler_stdout":
            _load_stdout(con, path, file_id, tz, result)
        else:
            if kind == "csv":
                _csv_rows(con, path)
            else:
                queries.run(con, "airflow/ti_raw_from_rows", tables={"_af_ti_arrow": _table(rows)})
            # Airflow stores UTC; naive metadata times are UTC whatever --tz says about old logs
            _load_ti_rows(con, source, file_id, display, "UTC", result)
        merge_touched(con)
        first, last = queries.one(con, "airflow/source_span", {"file_id": file_id})
        ledger.write(con, [(file_id, size, result, first, last)], started)
    return result


def _csv_rows(con, path: Path) -> None:
    """A task_instance CSV dump (header row) read by DuckDB, every column as text."""
    try:
        queries.run(con, "airflow/read_ti_csv", {"p": str(path)})
    except Exception as exc:  # duckdb.Error subclasses
        raise BadInput(f"{path}: cannot read as a task_instance CSV dump ({exc})") from exc
    cols = {r[0].lower(): r[0] for r in queries.cursor(con, "airflow/ti_csv_columns").fetchall()}
    missing = [c for c in ("dag_id", "task_id", "try_number") if c not in cols]
    if missing or not ({"run_id", "dag_run_id"} & cols.keys()):
        raise BadInput(f"{path}: CSV header lacks {', '.join(missing) or 'run_id'}; expected a dump of "
                       "Airflow's task_instance table with dag_id, run_id, task_id, map_index, try_number, "
                       "hostname, start_date, end_date, state")

    def pick(*names):
        for n in names:
            if n in cols:
                return '"' + cols[n].replace('"', '""') + '"'
        return "NULL"

    ti = pick("id") if "id" in cols else pick("task_instance_id")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _af_ti_raw AS SELECT "
        f"CAST(row_number() OVER () AS BIGINT) AS row_no, {pick('dag_id')} AS dag_id, "
        f"{pick('run_id', 'dag_run_id')} AS run_id, {pick('task_id')} AS task_id, {pick('map_index')} AS map_index, "
        f"{pick('try_number')} AS try_number, {ti} AS ti_id, {pick('hostname')} AS hostname, "
        f"{pick('start_date')} AS start_date, {pick('end_date')} AS end_date, {pick('state')} AS state, "
        f"{pick('operator')} AS operator, {pick('max_tries')} AS max_tries, "
        f"{pick('executor')} AS executor, {pick('queue')} AS queue, "
        f"{'task_instance_id' in cols} AS is_history FROM _af_csv")


def _observe(con, source: str, file_id: str, tz: str) -> None:
    """_af_ti_raw -> typed, judged rows (_af_tiv) -> this source's observations in task_attempt_sources."""
    queries.run(con, "airflow/load_ti_rows", {"tz": tz})
    queries.run(con, "airflow/insert_ti_sources", {"source": source, "file_id": file_id})


def _load_ti_rows(con, source: str, file_id: str, display: str, tz: str, result: FileResult) -> None:
    _observe(con, source, file_id, tz)
    rej = queries.cursor(con, "airflow/ti_rejects").fetchall()
    insert_rejects(con, file_id, display, [r[0] for r in rej], [r[1] for r in rej], [r[2] for r in rej])
    total = queries.scalar(con, "airflow/ti_count")
    result.lines_read = int(total)
    result.rows_rejected = len(rej)
    result.rows_loaded = int(total) - len(rej)


def _load_stdout(con, path: Path, file_id: str, tz: str, result: FileResult) -> None:
    text = path.read_bytes().decode("utf-8", errors="backslashreplace")
    if text.endswith("\n"):
        text = text[:-1]
    lines = text.split("\n") if text else []
    stdout = pa.table({"line_no": pa.array(range(1, len(lines) + 1), pa.int64()), "raw": pa.array(lines, pa.string())})
    queries.run(con, "airflow/parse_stdout", {"tz": tz}, tables={"_af_stdout_arrow": stdout})
    queries.run(con, "airflow/insert_stdout_events", {"file_id": file_id, "path": str(path)})
    queries.run(con, "airflow/stdout_ti_raw")   # 2.x "TaskInstance Finished" lines: observations of their own
    _observe(con, "scheduler_stdout", file_id, tz)
    used = queries.scalar(con, "airflow/stdout_used")
    result.lines_read = len(lines)
    result.rows_loaded = len(lines)   # component output: every line read, the relevant ones used
    result.note = f"{used} task-instance events"
