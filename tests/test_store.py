import gc
import subprocess
import sys
import threading
from pathlib import Path

from zsaudit import queries
from zsaudit.store import Store, latest_version


def test_new_store_is_at_latest_schema_version(tmp_path):
    s = Store(tmp_path / "a.duckdb")
    assert s.version() == latest_version()
    tables = {r[0] for r in s.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    for name in ["zia_web", "zia_firewall", "zia_dns", "zpa_user_activity", "zpa_user_status",
                 "task_attempts", "task_connections", "task_egress_hints", "attributions",
                 "findings", "ingest_ledger", "rejects"]:
        assert name in tables
    s.close()


def test_reopen_does_not_reapply_schema(tmp_path):
    with Store(tmp_path / "a.duckdb") as s:
        applied = s.con.execute("SELECT count(*) FROM schema_version").fetchone()[0]
    s = Store(tmp_path / "a.duckdb")
    assert s.con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == applied
    s.close()


def test_a_version_1_store_migrates_and_keeps_its_rejects(tmp_path):
    import duckdb

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute(queries.load("schema"))
    con.execute("INSERT INTO schema_version (version) VALUES (1)")
    con.execute("INSERT INTO rejects VALUES ('f', 'x.log', 1, 'whole line', 'reason')")
    con.close()
    with Store(tmp_path / "old.duckdb") as s:
        assert s.version() == latest_version()
        assert s.con.execute("SELECT raw, raw_bytes, raw_sha256 FROM rejects").fetchall() == [
            ("whole line", None, None)]


def test_a_version_6_store_keeps_its_attributions_through_the_view(tmp_path):
    """Schema 7 stores attributions narrow behind the view `attributions`: the rows of an older
    store read back through the view as they were written (status, method, confidence, attempt)."""
    from datetime import datetime, timezone

    import duckdb

    from zsaudit.store import _migrations

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute(queries.load("schema"))
    con.execute("INSERT INTO schema_version (version) VALUES (1)")
    for version, name in _migrations():
        if version <= 6:
            con.execute(queries.load(name))
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [version])
    t = datetime(2026, 11, 24, 1, tzinfo=timezone.utc)
    rows = [
        ("zia_web", "f:1", t, "w1", "svc@corp.example", "api.example", "a1", "billing", "r1", "push", -1, 1,
         "attributed", "device+login", 0.902, 1, None, "an1"),
        ("zia_web", "f:2", t, "w1", "svc@corp.example", "api.example", None, None, None, None, None, None,
         "ambiguous", "ip+login+host", 0.425, 2, ["a1", "a2"], "an1"),
        ("zpa_user_activity", "z:1", t, None, "svc@corp.example", "db.example", None, None, None, None, None, None,
         "unattributed", "login", 0.0, 0, None, "an1"),
    ]
    con.executemany(f"INSERT INTO attributions VALUES ({', '.join('?' * 18)})", rows)
    con.close()
    with Store(tmp_path / "old.duckdb") as s:
        assert s.version() == latest_version()
        assert s.con.execute("SELECT * FROM attributions ORDER BY request_rid").fetchall() == rows
        kinds = dict(s.con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
        assert kinds["attributions"] == "VIEW" and kinds["attribution_rows"] == "BASE TABLE"


def test_failed_transaction_leaves_no_rows(store):
    try:
        with store.transaction() as con:
            con.execute("INSERT INTO rejects (file_id, source_file, source_line, raw, reason) VALUES ('f', 'x.log', 1, 'raw', 'reason')")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0


def test_query_names_cannot_escape_queries_dir():
    import pytest

    with pytest.raises(ValueError):
        queries.load("../pyproject")


def test_migrations_have_one_number_each_in_sequence():
    # two files with one number let a store that applied the first skip the second for ever
    from zsaudit.store import SCHEMA_VERSION_BASE, _migrations

    versions = [v for v, _ in _migrations()]
    assert versions == list(range(SCHEMA_VERSION_BASE + 1, SCHEMA_VERSION_BASE + 1 + len(versions)))


def test_new_store_has_every_migrated_column(tmp_path):
    with Store(tmp_path / "a.duckdb") as s:
        cols = {(t, c) for t, c in s.con.execute(
            "SELECT table_name, column_name FROM information_schema.columns").fetchall()}
    for want in [("zia_web", "host_derived"), ("ingest_ledger", "hosts_derived"),
                 ("task_attempts", "executor"), ("task_attempts", "queue"),
                 ("rejects", "raw_sha256"), ("zia_web", "record_key")]:
        assert want in cols


def test_only_store_py_begins_commits_or_rolls_back():
    """The transaction boundary has one home: store.transaction() and Store.chunked_transaction()
    (whose Chunked.commit_chunk commits a large Zscaler file's chunks). No other module of zsaudit
    calls begin(), commit() or rollback() (SQL text saying BEGIN/COMMIT is refused by test_queries)."""
    import ast

    package = Path(__file__).resolve().parent.parent / "zsaudit"
    found = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "store.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("begin", "commit", "rollback") and not node.args):
                found.append(f"{path.relative_to(package.parent)}:{node.lineno}: .{node.func.attr}()")
    assert found == []


def test_stores_after_the_first_are_copies_of_one_migrated_store_and_independent(tmp_path):
    """A process' second and later new stores are copies of its migrated empty store (zsaudit/store.py
    _Template): each at the latest schema, its version rows stamped now, rows of one never in
    another, and nothing of the copy left beside them."""
    import datetime as dt

    def schema(s):
        return s.con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                             "ORDER BY ALL").fetchall()

    with Store(tmp_path / "migrated.duckdb", template=False) as s:
        want = schema(s)
    stores = [Store(tmp_path / f"s{i}.duckdb") for i in range(3)]
    try:
        for s in stores:
            assert s.version() == latest_version()
            assert schema(s) == want
            stamped = s.con.execute("SELECT min(applied_at) FROM schema_version").fetchone()[0]
            assert abs((dt.datetime.now(dt.timezone.utc) - stamped).total_seconds()) < 600
        stores[0].con.execute("INSERT INTO rejects (file_id, source_file, source_line, raw, reason) VALUES ('f', 'x.log', 1, 'line', 'reason')")
        assert [s.con.execute("SELECT count(*) FROM rejects").fetchone()[0] for s in stores] == [1, 0, 0]
    finally:
        for s in stores:
            s.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["migrated.duckdb", "s0.duckdb", "s1.duckdb", "s2.duckdb"]


def test_a_new_store_never_replaces_a_file_that_appeared_at_its_path(tmp_path, monkeypatch):
    """Another process creating the same store between the check and the copy: its file stays."""
    from zsaudit import store as store_mod

    Store(tmp_path / "first.duckdb").close()              # the process' first: the next may copy
    target = tmp_path / "racy.duckdb"
    with Store(tmp_path / "theirs.duckdb", template=False) as theirs:
        theirs.con.execute("INSERT INTO rejects (file_id, source_file, source_line, raw, reason) VALUES ('f', 'x.log', 1, 'line', 'reason')")
    copy_to = store_mod._TEMPLATE.copy_to

    def racing(path):
        (tmp_path / "theirs.duckdb").rename(path)         # appears after Store() checked the path
        return copy_to(path)
    monkeypatch.setattr(store_mod._TEMPLATE, "copy_to", racing)
    with Store(target) as s:
        assert s.con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".new")]


def _other_process_opens(path: Path) -> subprocess.CompletedProcess:
    code = ("import sys; from zsaudit.store import Store\n"
            "with Store(sys.argv[1], read_only=True) as s: print(s.version())")
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)


def test_a_store_dropped_unclosed_inside_another_open_or_close_neither_hangs_nor_stays_locked(tmp_path, monkeypatch):
    """Stores share kept DuckDB instances (one per open store): a store dropped unclosed in a
    reference cycle is released by the garbage collector, which runs at whatever allocation comes
    next, here inside another store's open or close (their statements). That once took the
    instances' lock a second time in the same thread: `zsaudit analyze` hung for good after a
    refused period. The dropped store's file must also be free for another process after."""
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    Store(first).close()
    Store(second).close()
    run = queries.run

    def collecting_run(*args, **kwargs):      # the collector at the allocations of every statement
        gc.collect()
        return run(*args, **kwargs)

    result: dict = {}

    def scenario():
        for when in ("open", "close"):
            s = Store(first)
            s.cycle = s                       # only the collector frees it
            if when == "close":
                other = Store(second)
            del s
            with monkeypatch.context() as m:
                m.setattr(queries, "run", collecting_run)
                if when == "open":
                    other = Store(second)
                other.close()
            result[when] = _other_process_opens(first)

    t = threading.Thread(target=scenario, daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "a store's open or close hung while the collector released another"
    for when in ("open", "close"):
        assert result[when].returncode == 0, (when, result[when].stderr)
        assert result[when].stdout.strip() == str(latest_version())


def test_a_kept_instance_starts_the_next_store_from_the_defaults(tmp_path):
    """A store's settings (threads, memory limit, time zone) never carry over to the next store
    the process opens on the same kept instance."""
    with Store(tmp_path / "a.duckdb") as a:
        keys = ["threads", "TimeZone", "preserve_insertion_order"]
        defaults = queries.settings_now(a.con, keys)
        queries.apply_settings(a.con, threads=1, memory_limit="300MB", TimeZone="America/New_York",
                               preserve_insertion_order=False)
        assert queries.settings_now(a.con, keys) != defaults
    with Store(tmp_path / "b.duckdb") as b:
        assert queries.settings_now(b.con, keys) == defaults
        # DuckDB's default memory limit is a share of the memory available when it is read
        assert queries.setting(b.con, "memory_limit") != "286.1 MiB"


def test_the_memory_limit_comes_back_exactly_after_every_analysis_sized_block(tmp_path):
    """An analysis, a render and an Airflow ingest each lower memory_limit for their block and put
    back what current_setting read ("18.8 GiB", one decimal of the bytes): a nightly loop over many
    periods in one process (test_period's 90, a backfill) must not walk the limit down, in the
    store or in the next store the process opens on the kept instance."""
    with Store(tmp_path / "a.duckdb") as a:
        before = queries.setting(a.con, "memory_limit")
        for _ in range(5):
            with queries.settings(a.con, memory_limit="2GB"):
                assert queries.setting(a.con, "memory_limit") != before
        assert queries.setting(a.con, "memory_limit") == before
        queries.apply_settings(a.con, memory_limit="300MB")
    with Store(tmp_path / "b.duckdb") as b:
        assert queries.setting(b.con, "memory_limit") == before
