"""Synthetic truth: synth -> real ingesters -> analyze finds exactly what was planted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.analyze.analysis import analyze
from zsaudit.analyze.listing import list_findings
from zsaudit.analyze.rules import KINDS
from zsaudit.synth import synthesize

FIELDS = ("kind", "subtype", "status", "dag_id", "run_id", "task_id", "map_index", "try_number", "worker",
          "login", "host", "conn_id")


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    synthesize(tmp_path / "a", requests=300, seed=7)
    synthesize(tmp_path / "b", requests=300, seed=7)
    synthesize(tmp_path / "c", requests=300, seed=8)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_layout_and_truth(tmp_path):
    r = synthesize(tmp_path, requests=400, seed=2)
    assert (tmp_path / "zscaler" / "zia_web.json").is_file()
    assert (tmp_path / "zscaler" / "zpa_user_status.json").is_file()
    assert (tmp_path / "zscaler" / "zpa_user_activity.json").is_file()
    logs = list((tmp_path / "airflow" / "logs").rglob("attempt=*.log"))
    assert len(logs) == r.attempts
    assert any("map_index=1" in str(p) for p in logs) and any(p.name == "attempt=2.log" for p in logs)
    first = json.loads(logs[0].read_text().splitlines()[1])
    assert {"timestamp", "level", "event", "logger", "dag_id", "run_id", "task_id", "try_number", "map_index",
            "ti_id"} <= set(first)
    tis = json.loads((tmp_path / "airflow" / "task_instances.json").read_text())
    assert tis["total_entries"] == len(tis["task_instances"]) == r.attempts
    assert {"hostname", "start_date", "end_date", "state", "try_number", "map_index", "dag_run_id", "id"} <= set(
        tis["task_instances"][0])
    truth = json.loads(r.truth_path.read_text())
    # every kind but coverage_gap: the synthetic night's feeds are complete by construction
    assert {f["kind"] for f in truth["findings"]} == set(KINDS) - {"coverage_gap"}
    assert {f["status"] for f in truth["findings"]} == {"open", "accepted"}


def _found(store) -> list[tuple]:
    return sorted(tuple(f[k] for k in FIELDS) for f in list_findings(store))


def _truth(path: Path) -> list[tuple]:
    truth = json.loads(path.read_text())
    return sorted(tuple(f[k] for k in FIELDS) for f in truth["findings"])


# 50: the smallest night `zsaudit demo --requests` takes (the planted cases and no routine workload)
@pytest.mark.parametrize("fmt,seed,requests", [("json", 1, 1500), ("csv", 5, 1500), ("kv", 11, 1500), ("json", 3, 50)])
def test_findings_match_truth_exactly(tmp_path, store, fmt, seed, requests):
    from zsaudit.ingest import airflow, zscaler

    r = synthesize(tmp_path / "synth", requests=requests, seed=seed, zia_format=fmt)
    zscaler.ingest_paths(store, [r.out_dir / "zscaler"])
    airflow.ingest_paths(store, [r.out_dir / "airflow"])
    summary = analyze(store, r.identity_path, since=r.since, until=r.until)
    assert _found(store) == _truth(r.truth_path)
    truth = json.loads(r.truth_path.read_text())
    assert summary.not_evaluable_by_check == truth["not_evaluable"]
    assert summary.unattributed == 3                       # the planted unattributed requests only
    # the expired exception says so; the token gap names its gap and the attempt it hit
    [expired] = [f for f in list_findings(store, kind="unmapped_identity") if f["login"] == "jdoe@corp.example"]
    assert "expired on 2026-01-31" in expired["exception_note"]
    no_session = [f for f in list_findings(store, kind="token_gap") if f["subtype"] == "no_session"][0]
    assert no_session["gap_seconds"] > 15 * 60 and len(no_session["attempts_hit"]) == 1


def test_cli_synth(tmp_path):
    result = CliRunner().invoke(main, ["synth", "--out", str(tmp_path / "s"), "--requests", "300", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "planted findings" in result.output
    assert (tmp_path / "s" / "truth.json").is_file() and (tmp_path / "s" / "identity.toml").is_file()


def test_cli_end_to_end_cef_feed(tmp_path):
    """synth -> `zsaudit ingest` -> `zsaudit analyze --fail-on critical` -> `zsaudit findings --format json`."""
    out, db = tmp_path / "s", tmp_path / "z.duckdb"
    runner = CliRunner()
    assert runner.invoke(main, ["synth", "--out", str(out), "--requests", "800", "--seed", "9",
                                "--zia-format", "cef", "-q"]).exit_code == 0
    for what in ("zscaler", "airflow"):
        r = runner.invoke(main, ["ingest", what, str(out / what), "--db", str(db), "-q"])
        assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["analyze", "--identity-map", str(out / "identity.toml"), "--db", str(db),
                             "--since", "2026-11-24", "--until", "2026-11-25", "--fail-on", "critical", "-q"])
    assert r.exit_code == 1                                   # the planted egress bypass is critical
    rows = json.loads(runner.invoke(main, ["findings", "--db", str(db), "--format", "json"]).output)
    assert sorted(tuple(f[k] for k in FIELDS) for f in rows) == _truth(out / "truth.json")
