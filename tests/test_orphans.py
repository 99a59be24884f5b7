"""A killed chunked Zscaler load leaves rows with no ledger row; the next ingest removes them
before it loads anything."""

from zsaudit.ingest import zscaler


def _leave_orphans(store):
    store.con.execute(
        "INSERT INTO zia_web (rid, event_time, login, file_id, source_file, source_line) "
        "VALUES ('dead:1', TIMESTAMPTZ '2026-11-24 10:00:00+00', 'svc-x@corp.example', 'dead', 'killed.json', 1)")
    store.con.execute("INSERT INTO rejects (file_id, source_file, source_line, raw, reason) VALUES ('dead', 'killed.json', 2, 'x', 'bad')")


def _counts(store):
    return store.con.execute(
        "SELECT (SELECT count(*) FROM zia_web WHERE file_id = 'dead'), "
        "(SELECT count(*) FROM rejects WHERE file_id = 'dead')").fetchone()


def test_next_ingest_removes_rows_of_a_killed_load(store, tmp_path):
    _leave_orphans(store)
    empty = tmp_path / "feeds"
    empty.mkdir()
    log = empty / "web.json"
    log.write_text('{"sourcetype":"zscalernss-web","event":{"time":"Mon Nov 24 10:00:00 2026",'
                   '"login":"a@corp.example","eurl":"api.example/x","action":"Allowed","respcode":"200"}}\n')
    zscaler.ingest_paths(store, [log])
    assert _counts(store) == (0, 0)
    assert store.con.execute("SELECT count(*) FROM zia_web").fetchone()[0] == 1
