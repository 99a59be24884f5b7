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


def test_rows_of_a_load_killed_before_its_ledger_row_are_never_seen(tmp_path):
    """kill -9 between the last chunk commit and the ledger row (issue 18 item 3): neither
    `analyze` nor a read-only reader (`report`, `findings`) sees the file's rows; a re-run
    gives the clean result."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from click.testing import CliRunner

    from zsaudit.cli import main
    from zsaudit.store import Store
    from zsaudit.synth import synthesize

    night = synthesize(tmp_path / "night", requests=120, seed=3)
    web = night.out_dir / "zscaler" / "zia_web.json"
    db = tmp_path / "z.duckdb"
    env = dict(os.environ, ZSAUDIT_INGEST_CHUNK_ROWS="10", ZSAUDIT_TEST_KILL_AT="after_chunk_commit")
    cmd = "import sys; from zsaudit.cli import main; sys.argv[0] = 'zsaudit'; main()"
    killed = subprocess.run([sys.executable, "-c", cmd, "ingest", "zscaler", str(web), "--db", str(db), "-q"],
                            env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    raw = __import__("duckdb").connect(str(db))          # the rows are there, with no ledger row
    assert raw.execute("SELECT count(*) FROM zia_web").fetchone()[0] > 0
    assert raw.execute("SELECT count(*) FROM ingest_ledger").fetchone()[0] == 0
    raw.close()

    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    with Store(copy, read_only=True) as s:                # report and findings open read-only
        assert s.con.execute("SELECT count(*) FROM zia_web").fetchone()[0] == 0

    period = ["--since", night.since.isoformat(), "--until", night.until.isoformat()]
    r = CliRunner().invoke(main, ["analyze", "--identity-map", str(night.identity_path), "--db", str(db),
                                  *period, "--json", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["worker_requests"] == 0

    r = CliRunner().invoke(main, ["ingest", "zscaler", str(web), "--db", str(db)])
    assert r.exit_code == 0, r.output
    with Store(db, read_only=True) as s:
        n = s.con.execute("SELECT count(*) FROM zia_web").fetchone()[0]
        assert s.con.execute("SELECT lines_read, rows_loaded FROM ingest_ledger").fetchall() == [(n, n)]
    assert n == len(web.read_text().splitlines())


def test_the_orphan_question_asks_of_every_table_the_sweep_deletes_from():
    """ledger.sweep_orphans runs the sweep only when queries/ingest/orphans_exist.sql finds an
    orphan: the two must name the same tables."""
    import re

    from zsaudit import queries

    def tables(name):
        return sorted(re.findall(r"FROM (\w+)\s+WHERE file_id NOT IN", (queries.queries_dir() / f"{name}.sql").read_text()))

    assert tables("ingest/orphans_exist") == tables("ingest/sweep_orphans") and len(tables("ingest/sweep_orphans")) == 8
