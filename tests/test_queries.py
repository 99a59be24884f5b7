"""The one query runner (zsaudit/queries.py) and the rules it keeps: SQL lives in queries/, step
files declare their hand-offs, and the runner binds and drops what the files say."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import duckdb
import pytest

from zsaudit import queries

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "queries"

# A string literal in Python that starts like an SQL statement.
SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WITH|COPY|ATTACH|DETACH|PRAGMA|SET|"
                       r"RESET|BEGIN|COMMIT|ROLLBACK|CHECKPOINT|INSTALL|LOAD|DESCRIBE|SUMMARIZE|EXPORT|USE)\b")

# Where SQL text may stay in Python, and why: (file, function or "*" for the whole file).
ALLOWED = {
    ("zsaudit/queries.py", "drop"): "the runner: DROP of the temp tables step headers declare",
    ("zsaudit/queries.py", "setting"): "the runner: reading a DuckDB setting by a bound name",
    ("zsaudit/queries.py", "set_option"): "the runner: SET of a setting from its fixed list (SET binds no name)",
    ("zsaudit/ingest/zscaler_sql.py", "*"): "generates one statement per line batch from the sniffed plan "
                                            "(the feed's columns, formats, delimiters): SQL built from a layout",
    ("zsaudit/ingest/airflow_metadata.py", "_select_sql"): "SQL sent to Airflow's own metadata DB, built "
                                                            "from the columns that DB has",
    ("zsaudit/ingest/airflow_metadata.py", "read_sqlite"): "reads Airflow's SQLite metadata DB (sqlite3, "
                                                            "not DuckDB): its tables and columns",
    ("zsaudit/ingest/airflow_metadata.py", "read_postgres"): "reads Airflow's PostgreSQL metadata DB "
                                                              "(psycopg, not DuckDB): its columns",
    ("zsaudit/ingest/airflow_metadata.py", "_csv_rows"): "picks the CSV dump's columns by the names in "
                                                          "its header (quoted identifiers)",
}


def sql_literals(path: Path) -> list[tuple[str, int, str]]:
    """(function, line, text) of each string literal in `path` that starts like an SQL statement
    (docstrings aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found = []

    def visit(node, function):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        texts = []
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            texts = [node.value]
        elif isinstance(node, ast.JoinedStr):
            texts = ["".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)]
        found.extend((function, node.lineno, t) for t in texts if SQL_START.match(t))
        for child in ast.iter_child_nodes(node):
            if not (isinstance(node, ast.JoinedStr) and isinstance(child, ast.Constant)):
                visit(child, function)

    visit(tree, "*")
    return found


def test_no_sql_statement_in_python_outside_the_runner():
    offending = []
    for path in sorted((ROOT / "zsaudit").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for function, line, text in sql_literals(path):
            if (rel, function) not in ALLOWED and (rel, "*") not in ALLOWED:
                offending.append(f"{rel}:{line} ({function}): {text.strip()[:70]!r}")
    assert offending == [], "SQL belongs in queries/*.sql, run with zsaudit.queries:\n" + "\n".join(offending)


def test_the_sql_finder_finds_sql(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('"""SELECT in a docstring is prose."""\n'
                 'def load(con, t):\n    con.execute(f"DELETE FROM {t} WHERE x = ?", [1])\n'
                 'NOTE = "Selected files"\n')
    assert [(fn, line) for fn, line, _ in sql_literals(f)] == [("load", 3)]


# -- step headers -------------------------------------------------------------------------------
STEP_FOLDERS = ("analyze", "correlate", "findings", "airflow", "ingest", "store", "pipeline", "listing", "receive",
                "spark")
_TEMP = re.compile(r"CREATE (?:OR REPLACE )?TEMP(?:ORARY)? TABLE (?:temp\.main\.)?(\w+)", re.I)


def _code(text: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def _known_tables() -> set[str]:
    schema = "".join(p.read_text() for p in [QUERIES / "schema.sql", *sorted((QUERIES / "migrations").glob("*.sql"))])
    stored = set(re.findall(r"CREATE TABLE(?: IF NOT EXISTS)? (\w+)", schema))
    temp = {t for p in QUERIES.rglob("*.sql") for t in _TEMP.findall(p.read_text())}
    return stored | temp


STEP_FILES = sorted(f"{folder}/{p.stem}" for folder in STEP_FOLDERS for p in (QUERIES / folder).glob("*.sql"))


@pytest.mark.parametrize("name", STEP_FILES)
def test_each_step_file_declares_what_it_reads_and_the_temp_tables_it_creates(name):
    text = queries.load(name)
    header = queries.header(name)
    assert re.search(r"^-- reads:", text, re.M), f"queries/{name}.sql: no '-- reads:' header line"
    created = set(_TEMP.findall(_code(text)))
    assert set(header.creates) | set(header.hands_on) == created, f"queries/{name}.sql: header vs CREATE TEMP"
    used = set(re.findall(r"(?<![$\w])([a-z_][a-z0-9_]*)\b", _code(text))) & _known_tables()
    missing = used - created - set(header.reads)
    assert not missing, f"queries/{name}.sql uses {sorted(missing)} without declaring them in '-- reads:'"


@pytest.fixture
def query_root(tmp_path, monkeypatch):
    """A queries/ folder of the test's own (under t/), the runner's caches cleared before and after."""
    root = tmp_path / "queries"
    (root / "t").mkdir(parents=True)
    monkeypatch.setattr(queries, "queries_dir", lambda: root)
    cached = (queries.load, queries.statements, queries.header)
    for fn in cached:
        fn.cache_clear()
    yield root
    for fn in cached:
        fn.cache_clear()


def test_steps_drop_what_the_headers_declare(query_root):
    root = query_root
    (root / "t" / "01_a.sql").write_text("-- reads: -\n-- creates: _scratch\n-- hands on: _kept\n"
                                         "CREATE TEMP TABLE _scratch AS SELECT $n AS n;\n"
                                         "CREATE TEMP TABLE _kept AS SELECT n + $m AS n FROM _scratch;\n")
    con = duckdb.connect()
    try:
        with queries.Steps(con, {"n": 1}) as steps:
            steps.run("t/01_a", m=2)                       # each statement gets only what it names
            steps.drop_scratch()
            tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
            assert tables == {"_kept"} and con.execute("SELECT n FROM _kept").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    finally:
        con.close()


def test_a_statement_marked_skip_when_empty_is_left_out_only_while_its_table_is_known_empty(query_root):
    root = query_root
    guarded = "-- skip when empty: _e\nINSERT INTO _log SELECT error('ran');\n"     # raises whenever it runs
    (root / "t" / "empty.sql").write_text("-- reads: -\n-- hands on: _e, _log\n"
                                          "CREATE OR REPLACE TEMP TABLE _log (n INTEGER);\n"
                                          "CREATE OR REPLACE TEMP TABLE _e AS SELECT 1 AS n WHERE $n > 1;\n" + guarded)
    (root / "t" / "grown.sql").write_text("-- reads: _e, _log\nINSERT INTO _e VALUES (2);\n" + guarded)
    (root / "t" / "guard.sql").write_text("-- reads: _e, _log\n" + guarded)
    con = duckdb.connect()
    try:
        with queries.Steps(con, {"n": 1}) as steps:
            steps.run("t/empty")                              # _e made here with no rows: skipped
            assert steps.row_counts == {"_e": 0}
            with pytest.raises(duckdb.Error, match="ran"):
                steps.run("t/grown")                          # a row added: no longer known empty
        with queries.Steps(con, {"n": 2}) as steps, pytest.raises(duckdb.Error, match="ran"):
            steps.run("t/empty")                              # _e has a row: it runs
        with queries.Steps(con, {"n": 1}) as steps:
            steps.run("t/empty")
            steps.run("t/guard")                              # still known empty: skipped
            steps.adopt(["t/empty"])                          # made again elsewhere: rows unknown
            with pytest.raises(duckdb.Error, match="ran"):
                steps.run("t/guard")
        with pytest.raises(duckdb.Error, match="ran"):
            queries.run(con, "t/empty", {"n": 1})             # outside Steps: every statement runs
    finally:
        con.close()


@pytest.mark.parametrize("name", [n for n in STEP_FILES if "skip when empty" in (QUERIES / f"{n}.sql").read_text()])
def test_skip_when_empty_marks_inserts_that_read_a_table_their_file_creates(name):
    """A marked statement adds rows only from the table it names (a reader checks the SQL by eye:
    an inner join or FROM of that table); here: it is an INSERT, it reads that table, and the
    table is a temp table some step creates from a query, so its rows can be known."""
    created_as = {t for p in QUERIES.rglob("*.sql")
                  for t in re.findall(r"CREATE (?:OR REPLACE )?TEMP(?:ORARY)? TABLE (\w+) AS\b", _code(p.read_text()))}
    marked = [(sql, t) for sql in queries.statements(name) for t in queries.skip_when_empty(sql)]
    assert marked
    for sql, table in marked:
        code = _code(sql)
        assert code.strip().upper().startswith("INSERT INTO"), f"queries/{name}.sql: {table}: not an INSERT"
        assert re.search(rf"\b(?:FROM|JOIN) {table}\b", code), f"queries/{name}.sql: does not read {table}"
        assert table in created_as, f"queries/{name}.sql: {table} is not created from a query"


def test_a_missing_parameter_names_the_query():
    with pytest.raises(ValueError, match=r"query q needs parameters \['until'\]"):
        queries.bind("SELECT 1 WHERE $since < $until -- not $here", {"since": 1}, "q")
    assert queries.bind("SELECT $a -- $b\n", {"a": 1, "b": 2}) == {"a": 1}


def test_identifiers_are_quoted():
    assert queries.with_idents("DELETE FROM {table}", {"table": 'zia"web'}) == 'DELETE FROM "zia""web"'
