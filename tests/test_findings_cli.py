"""`zsaudit analyze` and `zsaudit findings` through the CLI: formats, filters, exit codes."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner

from analysis_builder import BILLING, ETL, Case, at
from zsaudit.cli import main
from zsaudit.analyze.listing import csv_cell
from zsaudit.store import Store


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "z.duckdb"
    store = Store(path)
    c = Case(store, tmp_path)
    c.always_authenticated(BILLING, ETL)
    c.attempt("etl_load", "load", at(0), at(5))
    c.web(at(20), ETL, "files.warehouse.example")                   # unattributed_egress (medium)
    c.web(at(1), "=HYPERLINK(\"http://x\")@corp.example", "-evil.example")   # unmapped_identity (high)
    store.close()
    return path, c.map_path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_analyze_prints_a_summary_and_findings_lists_them(db):
    path, identity = db
    r = run("analyze", "--identity-map", identity, "--db", path, "--since", "2026-11-24", "--until", "2026-11-25", "-q")
    assert r.exit_code == 0, r.output
    r = run("analyze", "--identity-map", identity, "--db", path, "--json", "-q")
    summary = json.loads(r.output)
    assert summary["findings_by_kind"]["unattributed_egress"] == 1 and summary["worker_requests"] == 2
    table = run("findings", "--db", path)
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split()[:4] == ["finding_id", "severity", "status", "kind"]
    assert "high" in lines[1] and "medium" in lines[2]           # most severe first
    assert lines[-1] == "2 finding(s)"


def test_json_and_kind_filter(db):
    path, identity = db
    run("analyze", "--identity-map", identity, "--db", path, "-q")
    rows = json.loads(run("findings", "--db", path, "--format", "json", "--kind", "unattributed_egress").output)
    assert [r["kind"] for r in rows] == ["unattributed_egress"]
    assert rows[0]["event_time"] == "2026-11-24T10:20:00Z"
    assert rows[0]["controls"] == ["CC6.6", "CC7.2"] and rows[0]["host"] == "files.warehouse.example"
    assert json.loads(run("findings", "--db", path, "--format", "json", "--status", "accepted").output) == []


def test_csv_neutralizes_formulas(db):
    path, identity = db
    run("analyze", "--identity-map", identity, "--db", path, "-q")
    out = run("findings", "--db", path, "--format", "csv", "--kind", "unmapped_identity").output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["login"] == "'=HYPERLINK(\"http://x\")@corp.example"
    assert rows[0]["host"] == "'-evil.example"
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert all(re.fullmatch(r"-\d+(\.\d+)?", v) for r in rows for v in r.values() if v.startswith("-"))


@pytest.mark.parametrize("value,cell", [("=1+1", "'=1+1"), ("+x", "'+x"), ("-x", "'-x"), ("@x", "'@x"),
                                        ("\tx", "'\tx"), ("ok", "ok"), (None, ""), (["a", "=b"], "a =b"),
                                        (-1, "-1"), (-2.5, "-2.5"), ("-1", "'-1")])
def test_csv_cell(value, cell):
    assert csv_cell(value) == cell


def test_fail_on_sets_exit_code_1(db):
    path, identity = db
    r = run("analyze", "--identity-map", identity, "--db", path, "--fail-on", "high", "-q")
    assert r.exit_code == 1 and "1 open finding(s) at or above severity high" in r.output
    assert run("analyze", "--identity-map", identity, "--db", path, "--fail-on", "critical", "-q").exit_code == 0
    assert run("analyze", "--identity-map", identity, "--db", path, "--fail-on", "medium", "-q").exit_code == 1


def test_bad_period_and_missing_db(tmp_path, db):
    path, identity = db
    r = run("analyze", "--identity-map", identity, "--db", path, "--since", "yesterday")
    assert r.exit_code == 2 and "--since: expected an ISO 8601 date" in r.output
    r = run("findings", "--db", tmp_path / "none.duckdb")
    assert r.exit_code == 2 and "no zsaudit database here" in r.output
