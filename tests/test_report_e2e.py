"""End to end: synth -> real ingesters -> analyze -> report; the pack agrees with the store.

The night is the demo's (conftest.py's demo_run: `zsaudit demo`, a 2,000-request night synthesized,
ingested by both ingesters, analysed and reported with its PDF through the pipeline `run` calls),
built once a session and read here, never changed: its store is opened read-only."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader

from zsaudit.config import load_config
from zsaudit.report import verify


@pytest.fixture(scope="module")
def pipeline_pack(demo_run, demo_pack):
    from zsaudit.store import Store

    out, _ = demo_run
    truth_path = out / "input" / "truth.json"
    period = json.loads(truth_path.read_text())["period"]
    synth = SimpleNamespace(truth_path=truth_path, since=datetime.fromisoformat(period["since"]),
                            until=datetime.fromisoformat(period["until"]))
    manifest = json.loads((demo_pack / "manifest.json").read_text())
    result = SimpleNamespace(out_dir=demo_pack, pdf=demo_pack / "audit-pack.pdf",
                             since=datetime.fromisoformat(manifest["period"]["since"]),
                             until=datetime.fromisoformat(manifest["period"]["until"]))
    store = Store(load_config(out / "zsaudit.toml").db, read_only=True)
    yield store, synth, result
    store.close()


def q(store, sql, params=()):
    return store.con.execute(sql, list(params)).fetchall()[0][0]


def test_pack_numbers_equal_the_store(pipeline_pack):
    store, synth, result = pipeline_pack
    since, until = result.since, result.until
    assert (since, until) == (synth.since, synth.until)        # the analysed period is the default
    period = [since, until]
    web = q(store, "SELECT count(*) FROM zia_web WHERE event_time >= ? AND event_time < ?", period)
    zpa = q(store, "SELECT count(*) FROM zpa_user_activity WHERE event_time >= ? AND event_time < ?", period)
    attempts = q(store, "SELECT count(*) FROM task_attempts WHERE start_time >= ? AND start_time < ?", period)
    open_ = q(store, "SELECT count(*) FROM findings WHERE status = 'open'")
    accepted = q(store, "SELECT count(*) FROM findings WHERE status = 'accepted'")
    attributed = q(store, "SELECT count(*) FROM attributions WHERE status = 'attributed'")
    worker = q(store, "SELECT count(*) FROM attributions")
    assert open_ > 0 and accepted > 0 and attributed > 0

    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(str(result.pdf)).pages))
    assert f"{web + zpa:,} requests (ZIA web and ZPA user activity) and {attempts:,} task attempts" in text
    assert f"Coverage: {attributed:,} of {worker:,} worker requests attributed" in text
    assert f"Deviations ({open_:,})" in text
    assert f"Accepted risks ({accepted:,})" in text
    read, loaded, rejected, files = store.con.execute(
        "SELECT sum(lines_read), sum(rows_loaded), sum(rows_rejected), count(*) FROM ingest_ledger").fetchall()[0]
    assert f"All {files:,} files add up: {read:,} lines read = {loaded:,} loaded + {rejected:,} rejected" in text


def test_evidence_and_ocsf_hold_the_full_populations(pipeline_pack):
    store, synth, result = pipeline_pack
    out = result.out_dir
    n_findings = q(store, "SELECT count(*) FROM findings")
    assert pq.read_metadata(out / "evidence" / "findings.parquet").num_rows == n_findings
    assert len(json.loads((out / "findings.ocsf.json").read_text())) == n_findings
    with open(out / "evidence" / "findings.csv", newline="", encoding="utf-8") as fh:
        kinds = {row["kind"] for row in csv.DictReader(fh)}
    truth = json.loads(synth.truth_path.read_text())
    assert kinds == {f["kind"] for f in truth["findings"]}
    requests = pq.read_table(out / "evidence" / "attributed_requests.parquet")
    period = [result.since, result.until]
    assert requests.num_rows == (
        q(store, "SELECT count(*) FROM zia_web WHERE event_time >= ? AND event_time < ?", period)
        + q(store, "SELECT count(*) FROM zpa_user_activity WHERE event_time >= ? AND event_time < ?", period))
    assert "not_analysed" not in requests.column("status").to_pylist()


def test_pack_verifies_and_lists_every_input_file(pipeline_pack):
    store, synth, result = pipeline_pack
    assert verify(result.out_dir) == []
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert {i["sha256"] for i in manifest["inputs"]} == {
        r[0] for r in store.con.execute("SELECT sha256 FROM ingest_ledger").fetchall()}
    assert manifest["identity_map"]["sha256"] == manifest["identity_map"]["sha256_at_analysis"]
    assert any(name.startswith("findings/") for name in manifest["queries"])
