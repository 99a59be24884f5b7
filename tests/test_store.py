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
    Store(tmp_path / "a.duckdb").close()
    s = Store(tmp_path / "a.duckdb")
    assert s.con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1
    s.close()


def test_failed_transaction_leaves_no_rows(store):
    try:
        with store.transaction() as con:
            con.execute("INSERT INTO rejects VALUES ('f', 'x.log', 1, 'raw', 'reason')")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0


def test_query_names_cannot_escape_queries_dir():
    import pytest

    with pytest.raises(ValueError):
        queries.load("../pyproject")
