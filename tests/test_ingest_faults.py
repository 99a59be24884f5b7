"""One bad line is one reject: the reproductions of issue #18 (fixtures/repro/) and the caps on a
line (zsaudit/ingest/limits.py). Each repro test failed on main of 2026-12-01."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.ingest import limits, zscaler, zscaler_sql
from zsaudit.store import Store

from test_ingest_zscaler import web, write


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def rows(db, sql):
    with Store(db) as s:
        return s.con.execute(sql).fetchall()


@pytest.fixture
def repro(fixtures):
    return fixtures / "repro"


def test_latin1_percent_escape_loads_the_line_with_the_value_as_written(repro, tmp_path):
    db = tmp_path / "z.duckdb"
    res = cli("ingest", "zscaler", repro / "min_pct_e9.json", repro / "min_pct_c3a9.json", "--db", db)
    assert res.exit_code == 0, res.output
    assert "1 lines read, 1 loaded, 0 rejected" in res.output
    urls = sorted(r[0] for r in rows(db, "SELECT url FROM zia_web"))
    assert urls == sorted(["shop.example/café", "shop.example/caf%E9"])     # decoded / kept as written


def test_deep_json_does_not_stop_the_other_files(repro, fixtures, tmp_path):
    db = tmp_path / "z.duckdb"
    good = fixtures / "zscaler" / "zscaler_zia__web__test-web.log"
    res = cli("ingest", "zscaler", repro / "deep_first_1000.json", good, "--db", db)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "RecursionError" not in res.output
    assert "deep_first_1000.json" in res.output
    assert rows(db, "SELECT path, status FROM ingest_ledger ORDER BY status") == [
        (str(good), "loaded"), (str(repro / "deep_first_1000.json"), "refused")]


def test_a_deep_line_among_good_ones_is_a_reject_with_the_cap(repro, store, tmp_path):
    deep = (repro / "deep_first_1000.json").read_text().strip()
    f = write(tmp_path / "web.log", [web(1), deep, web(3)])
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    assert store.con.execute("SELECT source_line, reason FROM rejects").fetchall() == [
        (2, f"JSON nested deeper than {limits.MAX_DEPTH} levels")]


def test_bare_cr_in_headerless_csv_is_a_plain_error_not_a_traceback(repro, fixtures, tmp_path):
    res = cli("ingest", "zscaler", repro / "min_csv_cr2.csv", "--db", tmp_path / "z.duckdb")
    assert res.exit_code == 2 and res.exception is None or isinstance(res.exception, SystemExit), res.output
    assert "min_csv_cr2.csv" in res.output and "Traceback" not in res.output
    # and a bare CR inside a line of a real feed is part of that line's value, not an error
    sample = (fixtures / "zscaler" / "zia_nss_default_csv_sample__web.csv").read_text().splitlines()
    f = write(tmp_path / "cr.csv", [sample[0].replace('","', '","x\ry', 1)] + sample[1:])
    res = cli("ingest", "zscaler", f, "--db", tmp_path / "z.duckdb")
    assert res.exit_code == 0, res.output


def test_thousands_of_keys_on_a_kv_line_are_a_reject_with_the_cap(repro, tmp_path):
    db = tmp_path / "z.duckdb"
    res = cli("ingest", "zscaler", repro / "kv_wide_3000.kv", "--db", db)
    assert res.exit_code == 0, res.output
    assert "201 lines read, 200 loaded, 1 rejected" in res.output
    (reason, n, sha, raw), = rows(db, "SELECT reason, raw_bytes, raw_sha256, raw FROM rejects")
    line = (repro / "kv_wide_3000.kv").read_bytes().splitlines()[200]
    assert reason == f"more than {limits.MAX_FIELDS} fields on the line (3037)"
    assert (n, sha) == (len(line), hashlib.sha256(line).hexdigest())
    assert raw == line.decode()[:limits.REJECT_KEEP_CHARS]


def test_mutated_json_with_ten_thousand_keys_loads_within_memory(repro, tmp_path):
    db = tmp_path / "z.duckdb"
    res = cli("ingest", "zscaler", repro / "min_oom.json", "--db", db, "--max-reject-rate", "100%")
    assert res.exit_code == 0, res.output
    (read, loaded, rejected, duplicate), = rows(db, "SELECT lines_read, rows_loaded, rows_rejected, rows_duplicate "
                                                    "FROM ingest_ledger")
    assert read == 504 and read == loaded + rejected + duplicate and loaded > 150
    assert rows(db, "SELECT count(*) FROM rejects") == [(rejected,)]


def test_a_line_the_batch_sql_fails_on_is_rejected_alone(store, tmp_path, monkeypatch):
    """Any error of the batch statement (here: url_decode without try, as on main before) is
    narrowed down to its line by halving the batch; every other line loads."""
    monkeypatch.setattr(zscaler_sql, "_decode", lambda expr, how: f"url_decode({expr})" if how == "url" else expr)
    lines = [web(i) for i in range(1, 41)]
    lines[16] = lines[16].replace("api.example.com/a%20b", "shop.example/caf%E9")
    (r,) = zscaler.ingest_paths(store, [write(tmp_path / "web.log", lines)])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (40, 39, 1)
    ((line, reason),) = store.con.execute("SELECT source_line, reason FROM rejects").fetchall()
    assert line == 17 and reason.startswith("could not be read (InvalidInputException")


@pytest.mark.parametrize("gz", [False, True])
def test_lines_over_max_line_bytes_are_rejected_with_prefix_length_and_sha(store, tmp_path, monkeypatch, gz):
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 8 << 10)      # some long lines cross batches
    big = web(2, ua="A" * 50_000)                              # > one batch: the reader cuts it
    mid = web(3, ua="B" * 5_000)                               # < one batch: cut in Arrow
    lines = [web(1), big, mid, web(4)]
    f = write(tmp_path / "web.log", lines)
    if gz:
        g = tmp_path / "web.log.gz"
        with open(f, "rb") as src, gzip.open(g, "wb") as dst:
            shutil.copyfileobj(src, dst)
        f = g
    (r,) = zscaler.ingest_paths(store, [f], max_line_bytes=4096)
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (4, 2, 2)
    got = store.con.execute("SELECT source_line, reason, raw, raw_bytes, raw_sha256 FROM rejects "
                            "ORDER BY source_line").fetchall()
    for (line, reason, raw, n, sha), text in zip(got, [big, mid]):
        assert reason == limits.too_long(len(text), 4096)
        assert raw == text[:limits.REJECT_KEEP_CHARS]
        assert (n, sha) == (len(text), hashlib.sha256(text.encode()).hexdigest())
    assert [g[0] for g in got] == [2, 3]
    assert [x[0] for x in store.con.execute("SELECT source_line FROM zia_web ORDER BY 1").fetchall()] == [1, 4]


def test_newline_free_tail_is_one_reject_and_memory_does_not_hold_it(store, tmp_path, monkeypatch):
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 4 << 10)
    f = tmp_path / "web.log"
    f.write_text(web(1) + "\n" + "x" * 300_000, encoding="utf-8")
    (r,) = zscaler.ingest_paths(store, [f], max_line_bytes=8192)
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (2, 1, 1)
    assert store.con.execute("SELECT source_line, raw_bytes, length(raw) FROM rejects").fetchall() == [
        (2, 300_000, limits.REJECT_KEEP_CHARS)]


def test_cli_max_line_bytes_option(tmp_path):
    f = write(tmp_path / "web.log", [web(1), web(2, ua="C" * 3000)])
    res = cli("ingest", "zscaler", f, "--max-line-bytes", 2048, "--max-reject-rate", "50%", "--db", tmp_path / "z.duckdb")
    assert res.exit_code == 0, res.output
    assert "2 lines read, 1 loaded, 1 rejected" in res.output
    assert cli("ingest", "zscaler", f, "--max-line-bytes", 10, "--db", tmp_path / "y.duckdb").exit_code == 2
