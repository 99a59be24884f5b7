"""Hostile task logs (issue #18): the Airflow ingest is bounded by bytes and isolates lines.

A huge line, a file with no newline, JSON nested 1,000 deep, invalid UTF-8 and NUL bytes each cost
one reject (file, line number, reason; the huge line's first characters, length and sha256), never
the file; a large log is streamed into DuckDB in chunks and loads exactly what the in-memory path
loads; a line that makes the parsing SQL fail is found by halving and rejected alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.ingest import airflow_logs, limits
from zsaudit.ingest.airflow import ingest_paths

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "airflow"
RUN = "manual__2026-11-25T13:38:29.242859+00:00"


def task_log(root: Path, *, task="t", try_number=1) -> Path:
    path = root / "logs" / f"dag_id=d/run_id={RUN}/task_id={task}/attempt={try_number}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def v3(ts: str, event: str, **kw) -> bytes:
    return (json.dumps({"timestamp": ts, "level": "info", "event": event, "logger": "task", **kw}) + "\n").encode()


def v2(ts: str, msg: str) -> bytes:
    return f"[{ts}] {{taskinstance.py:1}} INFO - {msg}\n".encode()


HUGE = 3 << 20                                  # over the default --max-line-bytes (1 MiB)
DEEP = b'{"timestamp": "2026-11-25T14:00:02Z", "event": ' + b"[" * 1000 + b"]" * 1000 + b"}\n"


def hostile_v3() -> tuple[bytes, dict[int, str]]:
    """An Airflow 3 log with a hostile line at each of several places; {line: reason fragment}."""
    huge = b'{"timestamp": "2026-11-25T14:00:03Z", "event": "' + b"A" * HUGE + b'"}\n'
    body = (v3("2026-11-25T14:00:00Z", "Task started")                             # 1
            + huge                                                                  # 2
            + DEEP                                                                  # 3
            + v3("2026-11-25T14:00:04Z", "caf\u00e9").replace("caf\\u00e9".encode(), b"caf\xe9 \xff")   # 4
            + v3("2026-11-25T14:00:05Z", "nul").replace(b'"nul"', b'"n\x00ul"')    # 5
            + v3("2026-11-25T14:00:06Z", "Task finished", exit_code=0))             # 6
    return body, {2: "longer than", 3: "nested deeper"}


def rejects(store):
    return store.con.execute("SELECT source_file, source_line, reason, length(raw), raw_bytes, raw_sha256 "
                             "FROM rejects ORDER BY source_file, source_line").fetchall()


def reconciles(store):
    rows = store.con.execute("SELECT file_id, lines_read, rows_loaded, rows_rejected FROM ingest_ledger "
                             "WHERE source_kind = 'airflow_tasklog'").fetchall()
    assert rows
    for file_id, read, loaded, rejected in rows:
        assert read == loaded + rejected
        assert store.con.execute("SELECT count(*) FROM rejects WHERE file_id = ?", [file_id]).fetchone()[0] == rejected
        assert store.con.execute("SELECT count(*) FROM airflow_log_lines WHERE file_id = ?",
                                 [file_id]).fetchone()[0] == loaded
    return rows


@pytest.mark.parametrize("streamed", [False, True], ids=["in memory", "streamed"])
def test_hostile_airflow3_lines_are_one_reject_each(store, tmp_path, monkeypatch, streamed):
    if streamed:     # the large-file path: hashed in blocks, read in chunks into DuckDB
        monkeypatch.setattr(airflow_logs, "SMALL_FILE_BYTES", 4096)
        monkeypatch.setattr(airflow_logs, "CHUNK_BYTES", 4096)
    body, expected = hostile_v3()
    path = task_log(tmp_path)
    path.write_bytes(body)
    (r,) = ingest_paths(store, [tmp_path / "logs"])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (6, 4, 2), r
    assert r.sha256 == hashlib.sha256(body).hexdigest()
    got = rejects(store)
    assert [(line, file) for file, line, *_ in got] == [(2, str(path)), (3, str(path))]
    for (_, line, reason, kept, size, digest) in got:
        assert expected[line] in reason and kept <= limits.REJECT_KEEP_CHARS
    huge_line = body.split(b"\n")[1]
    assert got[0][4:] == (len(huge_line), hashlib.sha256(huge_line).hexdigest())
    assert "--max-line-bytes" in got[0][2]
    messages = dict(store.con.execute("SELECT source_line, message FROM airflow_log_lines").fetchall())
    assert messages[4] == "caf\\xe9 \\xff"        # invalid UTF-8 stays visible as \xNN
    assert messages[5] == "n\x00ul"               # a NUL is data, not the end of the line or file
    reconciles(store)


def test_hostile_airflow2_text_and_a_file_without_newline(store, tmp_path):
    ok = task_log(tmp_path, task="ok")
    ok.write_bytes(v2("2026-11-25T14:00:00.000+0000", "Starting attempt 1 of 1")
                   + v2("2026-11-25T14:00:00.100+0000", "x" * (2 << 20))          # over the cap
                   + b"Traceback (most recent call last):\n"                       # continuation of line 1
                   + v2("2026-11-25T14:00:01.000+0000", "nul \x00 and \xff".encode("latin-1").decode("latin-1"))
                   + b"[" * 5000 + b"\n"                                           # brackets, not JSON: no depth cap
                   + v2("2026-11-25T14:00:01.100+0000", "Task exited with return code 0").rstrip(b"\n"))
    blob = task_log(tmp_path, task="blob")
    blob.write_bytes(b"z" * (5 << 20))                                             # 5 MiB, no newline at all
    results = {Path(r.path).parent.name: r for r in ingest_paths(store, [tmp_path / "logs"])}
    r = results["task_id=ok"]
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (6, 5, 1), r
    b = results["task_id=blob"]
    assert (b.lines_read, b.rows_loaded, b.rows_rejected) == (1, 0, 1), b
    by_file = {(Path(f).parent.name, line): (reason, kept, size) for f, line, reason, kept, size, _ in rejects(store)}
    assert set(by_file) == {("task_id=ok", 2), ("task_id=blob", 1)}
    assert by_file[("task_id=blob", 1)][2] == 5 << 20 and by_file[("task_id=blob", 1)][1] <= limits.REJECT_KEEP_CHARS
    reconciles(store)


def test_max_line_bytes_option_and_the_streamed_path_load_the_same(tmp_path, monkeypatch):
    """`ingest airflow --max-line-bytes` lowers the cap; the real Airflow 2.10 / 3.3 logs give the
    same rows and rejects whether held in memory or streamed in 4 KiB chunks."""
    trees = []
    for version in ("2.10.5", "3.3.2"):
        shutil.copytree(FIXTURES / version / "logs", tmp_path / "in" / version)
        trees.append(str(tmp_path / "in" / version))
    runner = CliRunner()

    def ingest(db: Path):
        res = runner.invoke(main, ["ingest", "airflow", *trees, "--max-line-bytes", "1024", "--db", str(db)])
        assert res.exit_code == 0, res.output
        import duckdb
        con = duckdb.connect(str(db), read_only=True)
        try:
            return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                    for t in ("airflow_log_lines", "task_attempts", "task_connections")} | {
                "rejects": con.execute("SELECT source_file, source_line, reason, raw_bytes, raw_sha256 FROM rejects "
                                       "ORDER BY ALL").fetchall(),
                "ledger": con.execute("SELECT path, sha256, lines_read, rows_loaded, rows_rejected FROM ingest_ledger "
                                      "ORDER BY ALL").fetchall()}
        finally:
            con.close()

    held = ingest(tmp_path / "held.duckdb")
    assert any("--max-line-bytes" in r[2] for r in held["rejects"]), "some real log line is over 1,024 bytes"
    monkeypatch.setattr(airflow_logs, "SMALL_FILE_BYTES", 4096)
    monkeypatch.setattr(airflow_logs, "CHUNK_BYTES", 4096)
    streamed = ingest(tmp_path / "streamed.duckdb")
    for table in held:
        assert streamed[table] == held[table], table


def test_a_line_that_fails_the_parse_is_one_reject_and_the_batch_loads(store, tmp_path, monkeypatch):
    """Per-line isolation: the parsing SQL raising on one line (here: DuckDB's error() on a marker,
    standing in for any value DuckDB refuses) costs that line, not its file or its batch."""
    real = airflow_logs.queries.statements

    def statements(name):
        found = real(name)
        if name == "airflow/parse_lines":
            found = tuple(sql.replace("WHERE l.cap IS NULL", "WHERE l.cap IS NULL AND "
                                      "(NOT contains(l.raw, 'BOOM') OR error('refused: ' || l.raw) IS NULL)")
                          for sql in found)
            assert any("BOOM" in sql for sql in found)
        return found

    monkeypatch.setattr(airflow_logs.queries, "statements", statements)
    good = task_log(tmp_path, task="good")
    good.write_bytes(v3("2026-11-25T14:00:00Z", "Task started") + v3("2026-11-25T14:00:01Z", "done"))
    bad = task_log(tmp_path, task="bad")
    bad.write_bytes(b"".join(v3(f"2026-11-25T14:00:{i:02d}Z", "BOOM" if i in (3, 7) else f"line {i}")
                             for i in range(10)))
    results = {Path(r.path).parent.name: r for r in ingest_paths(store, [tmp_path / "logs"])}
    assert (results["task_id=good"].rows_loaded, results["task_id=good"].rows_rejected) == (2, 0)
    r = results["task_id=bad"]
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (10, 8, 2), r
    got = [(Path(f).parent.name, line, reason) for f, line, reason, *_ in rejects(store)]
    assert [g[:2] for g in got] == [("task_id=bad", 4), ("task_id=bad", 8)]
    assert all("could not be read" in g[2] and "refused" in g[2] for g in got)
    reconciles(store)
