"""Load SQL from queries/ by name and run it: the one way a query file is executed.

SQL is never assembled from user input: values are bound as $name parameters, and each statement
gets only the parameters it names (DuckDB refuses extras). Step files (queries/correlate/,
queries/findings/, ...) begin with a header that declares their hand-offs:

    -- reads:    task_attempts, im_workers           tables and temp tables the step uses
    -- creates:  _windows, _bounds                   scratch temp tables, dropped when the steps end
    -- hands on: _attempts                           temp tables later steps (or Python) read;
                                                     dropped when the whole run of steps ends

`Steps` runs step files and drops exactly what their headers declare; tests/test_queries.py checks
every header against the file's SQL.

A finding rule that reads per-request rows is split by marker lines into stages, in its one file
(docs/scale.md): what comes before `-- stage: rows` is its setup (small tables built from the
store), then its row stage (selects from _attr the rows it groups: row-local, so it can run
wherever the rows are) and, after `-- stage: group`, its group stage (turns those rows into
findings, once over all of them). One machine runs the file top to bottom; the Spark engine runs
the setup on the driver, the row stage in each task, the group stage on the driver.

A statement that can only add or change rows when a temp table has some may say so in a comment
line of its own, `-- skip when empty: _t`: `Steps` leaves it out when that table, created by an
earlier statement of the same steps (CREATE TEMP TABLE ... AS), holds no rows (on a small night
most detections' staged rows are empty, and each statement costs its plan whatever its input).
Where the table was made elsewhere (another engine's task, an adopted step), it runs.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from .resources import queries_dir

# DuckDB 2 advises con.sql() over con.execute() for Arrow output (arrow_table() below): the copy
# it warns of costs less than the second compile con.sql() makes
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result makes an extra copy", category=UserWarning)

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")
_HEADER = re.compile(r"^--\s*(reads|creates|hands on):\s*(.*)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STAGE = re.compile(r"^--[ \t]*stage:[ \t]*(rows|group)[ \t]*$", re.M)
_TEMP_TABLE = re.compile(r"\bCREATE (?:OR REPLACE )?TEMP(?:ORARY)? TABLE (\w+)", re.I)
_SKIP_WHEN_EMPTY = re.compile(r"^--[ \t]*skip when empty:[ \t]*(\w+)[ \t]*$", re.M)
_CREATE_AS = re.compile(r"^\s*CREATE (?:OR REPLACE )?TEMP(?:ORARY)? TABLE (\w+) AS\b", re.I)
_WRITES = re.compile(r"\b(?:INSERT INTO|DELETE FROM|UPDATE|CREATE (?:OR REPLACE )?TEMP(?:ORARY)? TABLE)\s+(\w+)", re.I)
STAGES = ("setup", "rows", "group")
# DuckDB settings a stage may change for its duration (SET takes no bound name: this is the list)
SETTINGS = ("memory_limit", "threads", "preserve_insertion_order", "checkpoint_threshold", "TimeZone",
            "enable_progress_bar", "temp_directory", "disabled_optimizers")
# Below this many rows in the whole store (every table, DuckDB's own counts) an analysis and a
# pack's render are planned without DuckDB's optimizers but filter pushdown (which keeps a join
# written in a WHERE a join, not a cross product): for inputs that small any such plan runs in no
# time, and optimizing an analysis' ~130 statements is ~15 % of its CPU, a render's ~9 %
# (docs/benchmarks.md, session 15). Bounded by the store, not the period: a small period of a
# large store keeps the optimized plans (join orders, statistics) its tables need. Results do not
# depend on the plan (tests/test_reperformance.py compares optimized and unoptimized runs).
SMALL_STORE_ROWS = 100_000


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """Text of queries/<name>.sql, e.g. load("findings/token_gap")."""
    path = (queries_dir() / f"{name}.sql").resolve()
    root = queries_dir().resolve()
    if root not in path.parents:
        raise ValueError(f"query name {name!r} escapes {root}")
    return path.read_text(encoding="utf-8")


def names(folder: str) -> list[str]:
    """Sorted query names below queries/<folder>/ (without the .sql suffix)."""
    base = queries_dir() / folder
    return sorted(f"{folder}/{p.stem}" for p in base.glob("*.sql"))


def path_of(name: str) -> Path:
    return queries_dir() / f"{name}.sql"


def _code(sql: str) -> str:
    """`sql` without its -- comments (our own files: no '--' inside a literal that names a $param)."""
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def param_names(sql: str) -> frozenset[str]:
    """The $params a statement names (outside comments)."""
    return _parsed(sql).params


@dataclass(frozen=True)
class _Parsed:
    """What the runner reads off a statement's text, once per text (_parsed): an analysis runs
    ~75 statements, each bound, checked for `skip when empty` and counted per run; reading them
    again each time was ~20 ms of regular expressions an analysis (docs/benchmarks.md, session 16)."""
    params: frozenset[str]
    skip_when_empty: tuple[str, ...]
    created: str | None           # the temp table a CREATE ... AS makes (its rows: the cursor's count)
    writes: tuple[str, ...]       # every table it writes (INSERT, DELETE, UPDATE, CREATE)


@lru_cache(maxsize=2048)
def _parsed(sql: str) -> _Parsed:
    code = _code(sql)
    created = _CREATE_AS.match(code)
    return _Parsed(frozenset(_PARAM.findall(code)), tuple(_SKIP_WHEN_EMPTY.findall(sql)),
                   created.group(1) if created else None, tuple(_WRITES.findall(code)))


def bind(sql: str, params: dict, name: str = "query", *, strict: bool = True) -> dict:
    """The values of the $params `sql` names; a missing one is an error naming the query.
    strict=False (SQL generated per batch, zsaudit/ingest/zscaler_sql.py): the given values it
    names, looked for in the whole text."""
    if not strict:
        return {k: v for k, v in params.items() if k in set(_PARAM.findall(sql))}
    wanted = param_names(sql)
    missing = wanted - params.keys()
    if missing:
        raise ValueError(f"query {name} needs parameters {sorted(missing)}")
    return {k: params[k] for k in wanted}


@lru_cache(maxsize=None)
def statements(name: str) -> tuple[str, ...]:
    """The statements of queries/<name>.sql (our own files: no ';' ending a line inside a literal)."""
    return _split(load(name))


def _split(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in _STATEMENT_END.split(text) if s.strip() and _code(s).strip())


@lru_cache(maxsize=None)
def stages(name: str) -> dict[str, tuple[str, ...]]:
    """The statements of queries/<name>.sql by stage (setup, rows, group; see the module docstring).
    A file without a `-- stage: rows` line is one group stage."""
    text = load(name)
    marks = list(_STAGE.finditer(text))
    if not marks:
        return {"setup": (), "rows": (), "group": statements(name)}
    if [m.group(1) for m in marks] != ["rows", "group"]:
        raise ValueError(f"queries/{name}.sql: expected one '-- stage: rows' line, then one '-- stage: group'")
    rows, group = marks
    return {"setup": _split(text[:rows.start()]), "rows": _split(text[rows.end():group.start()]),
            "group": _split(text[group.end():])}


def stage_tables(name: str, stage: str) -> tuple[str, ...]:
    """The temp tables a stage of queries/<name>.sql creates (what the Spark engine moves between
    the driver and its tasks)."""
    return tuple(t for sql in stages(name)[stage] for t in _TEMP_TABLE.findall(_code(sql)))


@dataclass(frozen=True)
class Header:
    reads: tuple[str, ...] = ()
    creates: tuple[str, ...] = ()
    hands_on: tuple[str, ...] = ()


@lru_cache(maxsize=None)
def header(name: str) -> Header:
    """The declarations at the top of queries/<name>.sql (see the module docstring)."""
    found: dict[str, list[str]] = {"reads": [], "creates": [], "hands on": []}
    for line in load(name).splitlines():
        if not line.startswith("--"):
            break
        m = _HEADER.match(line.strip())
        if m:
            found[m.group(1)] += [t.strip() for t in m.group(2).split(",") if t.strip() and t.strip() != "-"]
    for table in found["creates"] + found["hands on"]:
        if not _IDENT.match(table):
            raise ValueError(f"queries/{name}.sql: header names {table!r}, not a table name")
    return Header(tuple(found["reads"]), tuple(found["creates"]), tuple(found["hands on"]))


@contextmanager
def registered(con, tables: dict | None) -> Iterator[None]:
    """Arrow tables (or other Python data DuckDB scans) visible to SQL under the given names."""
    for view, data in (tables or {}).items():
        con.register(view, data)
    try:
        yield
    finally:
        for view in tables or {}:
            con.unregister(view)


def run(con, name: str, params: dict | None = None, *, tables: dict | None = None,
        idents: dict[str, str] | None = None, literals: dict[str, list[str]] | None = None,
        stage: str | None = None, row_counts: dict[str, int] | None = None) -> None:
    """Run every statement of queries/<name>.sql in order, binding only the $params each one names;
    `tables` are Python data (Arrow tables) the SQL reads under those names; `idents` fill
    {placeholders} that name a catalog or table (SQL cannot bind a name), always double-quoted;
    `literals` fill {placeholders} with a list of quoted strings, where a value cannot be bound
    because the statement is kept (a view's definition: store.name_attribution_parts);
    `stage`: only that stage's statements (setup, rows, group), else all;
    `row_counts` (Steps): the rows of the temp tables created so far, kept up to date here, and a
    statement marked `-- skip when empty: _t` left out while `_t` has none (module docstring)."""
    params = params or {}
    with registered(con, tables):
        for sql in statements(name) if stage is None else stages(name)[stage]:
            if row_counts is not None and any(row_counts.get(t) == 0 for t in skip_when_empty(sql)):
                continue
            sql = with_idents(sql, idents)
            cur = con.execute(with_literals(sql, literals), bind(sql, params, name))  # a literal is not a $param
            if row_counts is not None:
                _count_rows(row_counts, sql, cur)


def skip_when_empty(sql: str) -> tuple[str, ...]:
    """The tables a statement's `-- skip when empty:` lines name."""
    return _parsed(sql).skip_when_empty


def _count_rows(row_counts: dict[str, int], sql: str, cur) -> None:
    """After `sql` ran: a temp table it created from a query has the rows DuckDB reports; any other
    table it writes (INSERT, DELETE, UPDATE, CREATE without AS) is no longer known."""
    parsed = _parsed(sql)
    for table in parsed.writes:
        row_counts.pop(table, None)
    if parsed.created:
        row = cur.fetchone()
        if row is not None:
            row_counts[parsed.created] = int(row[0])


def with_idents(sql: str, idents: dict[str, str] | None) -> str:
    """`sql` with each {key} of `idents` replaced by the quoted identifier."""
    for key, value in (idents or {}).items():
        sql = sql.replace("{" + key + "}", '"' + str(value).replace('"', '""') + '"')
    return sql


def with_literals(sql: str, literals: dict[str, list[str]] | None) -> str:
    """`sql` with each {key} of `literals` replaced by a list of single-quoted string literals."""
    for key, values in (literals or {}).items():
        quoted = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)
        sql = sql.replace("{" + key + "}", f"[{quoted}]")
    return sql


def cursor(con, name: str, params: dict | None = None):
    """The cursor of a one-statement query file (rows to fetch: .fetchall(), .fetchone(), .arrow())."""
    (sql,) = statements(name)
    return con.execute(sql, bind(sql, params or {}, name))


def arrow_table(con, sql: str, params=None):
    """The rows of one statement as an Arrow table, the statement compiled once: DuckDB 2's
    con.sql() binds a statement to describe it and again to run it (tens of ms for the batch
    SQL, paid per batch); its copy of the result from con.execute costs less."""
    cur = con.execute(sql, params)
    return cur.to_arrow_table() if hasattr(cur, "to_arrow_table") else cur.fetch_arrow_table()


def relation(con, name: str, *, idents: dict[str, str] | None = None):
    """A one-statement query file without $params as a DuckDB relation (to write it to Parquet,
    partitioned: zsaudit/lake.py); `idents` as for run()."""
    (sql,) = statements(name)
    return con.sql(with_idents(sql, idents))


def rows(con, name: str, params: dict | None = None) -> list[dict]:
    """The rows of a one-statement query file as dicts."""
    cur = cursor(con, name, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def one(con, name: str, params: dict | None = None) -> tuple | None:
    """The first row of a one-statement query file (None when no row); the result is read to its
    end, so the connection is free for what comes next (registering a table, another query)."""
    found = cursor(con, name, params).fetchall()
    return found[0] if found else None


def scalar(con, name: str, params: dict | None = None):
    """The first column of the first row of a one-statement query file (None when no row)."""
    row = one(con, name, params)
    return row[0] if row else None


def insert_many(con, name: str, rows_: list) -> None:
    """queries/<name>.sql (one INSERT with ? placeholders) for each row."""
    (sql,) = statements(name)
    if rows_:
        con.executemany(sql, rows_)


def columns(table: str, names: str, rows: list[tuple]) -> dict:
    """Small Python rows as one list parameter per column, $<table>_<name>, for SQL that zips them
    back with unnest (queries/analyze/*.sql); an empty list is no rows."""
    keys = names.split()
    return {f"{table}_{k}": [r[i] for r in rows] for i, k in enumerate(keys)}


def drop(con, tables) -> None:
    """Drop temp tables by name (names from step headers, checked as identifiers)."""
    for table in tables:
        if not _IDENT.match(table):
            raise ValueError(f"not a table name: {table!r}")
        con.execute(f"DROP TABLE IF EXISTS {table}")


class Steps:
    """A run of step files sharing parameters. drop_scratch() drops the `creates:` tables of the
    steps run so far; closing (the `with` block's end) drops every `creates:` and `hands on:` table."""

    def __init__(self, con, params: dict):
        self.con, self.params = con, params
        self.scratch: list[str] = []
        self.handed: list[str] = []
        self.row_counts: dict[str, int] = {}     # temp tables these steps created, by rows (run())

    def run(self, name: str, *, tables: dict | None = None, stage: str | None = None, **extra) -> None:
        run(self.con, name, {**self.params, **extra}, tables=tables, stage=stage, row_counts=self.row_counts)
        self._declare(name)

    def adopt(self, step_names, *, scratch: bool = True) -> None:
        """Drop, with its own, what these steps (run elsewhere) declare; scratch=False: only what
        they hand on (whoever ran them dropped their `creates:` already: a DROP is a statement)."""
        for name in step_names:
            h = header(name)
            for table in h.creates + h.hands_on:     # made elsewhere: their rows are not known here
                self.row_counts.pop(table, None)
            self._declare(name, scratch=scratch)

    def _declare(self, name: str, *, scratch: bool = True) -> None:
        h = header(name)
        if scratch:
            self.scratch += [t for t in h.creates if t not in self.scratch]
        self.handed += [t for t in h.hands_on if t not in self.handed]

    def drop_scratch(self) -> None:
        drop(self.con, self.scratch)
        for table in self.scratch:
            self.row_counts.pop(table, None)
        self.scratch = []

    def close(self) -> None:
        self.drop_scratch()
        drop(self.con, self.handed)
        self.handed, self.row_counts = [], {}

    def __enter__(self) -> "Steps":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:        # on an error the transaction's rollback removes them
            self.close()


@contextmanager
def settings(con, **values) -> Iterator[dict]:
    """DuckDB settings changed for the block and restored after it, e.g.
    `with settings(con, memory_limit="2GB", preserve_insertion_order=False) as previous:`."""
    previous = apply_settings(con, **values)
    try:
        yield previous
    finally:
        apply_settings(con, **previous)


def apply_settings(con, **values) -> dict:
    """SET each of `values` (names from SETTINGS; values bound); returns the settings they replaced.
    The current values are read in one statement and a value already in place is not set again
    (a small file's ingest changes and restores settings several times: each statement costs)."""
    if not values:
        return {}
    keys = list(values)
    for key in keys:
        if key not in SETTINGS:
            raise ValueError(f"not a setting zsaudit changes: {key!r}")
    previous = dict(zip(keys, settings_now(con, keys)))
    for key, value in values.items():
        if str(previous[key]) != str(value):
            set_option(con, key, value)
    return previous


def small_store_settings(con) -> dict:
    """{"disabled_optimizers": every optimizer but filter pushdown} for a store of fewer than
    SMALL_STORE_ROWS rows in all (the store `con` uses), else {}: settings(con, **these)."""
    rows, optimizers = one(con, "store/size")
    return {"disabled_optimizers": optimizers} if rows < SMALL_STORE_ROWS else {}


def setting(con, key: str, *more: str):
    """The current value of a DuckDB setting; with `more` names, the tuple of their values, read
    in one statement."""
    names = [key, *more]
    row = con.execute("SELECT " + ", ".join("current_setting(?)" for _ in names), names).fetchall()[0]
    return tuple(row) if more else row[0]


def settings_now(con, keys: list[str]) -> tuple:
    """The current values of the DuckDB settings `keys`, in one statement."""
    return setting(con, *keys) if len(keys) > 1 else (setting(con, keys[0]),)


# DuckDB's own rendering of a memory size ("18.8 GiB"), as current_setting gives it back
_FORMATTED_MEMORY = re.compile(r"\d+(?:\.\d+)? [KMGTP]iB")


def set_option(con, key: str, value) -> None:
    """SET one DuckDB setting of SETTINGS to a bound value.

    A memory_limit given back as DuckDB rendered it (restoring what current_setting read) is one
    decimal short of the bytes it was: SET again, "18.8 GiB" reads back "18.7 GiB", and a process
    that restores it after every analysis would walk its limit down. When that value is DuckDB's
    default (the instance's, for a store opened without a limit), RESET gives the exact bytes back."""
    if key not in SETTINGS:
        raise ValueError(f"not a setting zsaudit changes: {key!r}")
    if key == "memory_limit" and isinstance(value, str) and _FORMATTED_MEMORY.fullmatch(value):
        con.execute("RESET memory_limit")
        if setting(con, key) == value:
            return
    con.execute(f"SET {key} = ?", [value])
