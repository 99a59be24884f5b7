"""Re-performance gives the same answer (issue #18 item 7).

An auditor who runs ingest + analyze + report from scratch on the same inputs must get the same
findings, attributions and pack (its PDF included), byte for byte, whatever the thread count and the
order the files were given in. The PDF is compared between the runs that differ in both (1 thread,
files in order; 2 threads, reversed), each command of theirs a real `python -m zsaudit` process; the
third run writes no PDF (WeasyPrint is most of a run's CPU), runs its commands in this process
(CliRunner: four interpreter starts and imports fewer) and its pack is compared file by file but for
the PDF's entry in the manifest; it also analyses and renders with DuckDB's optimizers, which the
two others, a small store, leave out (queries.SMALL_STORE_ROWS): the plans differ, the answer may
not. The night is built with ties on purpose: every Zscaler web record has a twin at the same
moment, by the same login, to another host, in the other feed file, so every "representative host"
(the most frequent one) of a finding is a tie that only a total order can break the same way each
time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from zsaudit import queries
from zsaudit.cli import main
from zsaudit.ingest import zscaler
from zsaudit.synth import synthesize

GENERATED_AT = "2026-11-26T06:00:00Z"


@pytest.fixture(scope="module")
def tied_night(tmp_path_factory):
    return build_tied_night(tmp_path_factory.mktemp("tied"))


def build_tied_night(out: Path):
    """A synthetic night whose ZIA web feed is two files, each record's twin in the other."""
    night = synthesize(out / "night", requests=250, seed=11)
    web = out / "night" / "zscaler" / "zia_web.json"
    lines = web.read_text(encoding="utf-8").splitlines()
    halves = ([], [])
    next_id = 10_000_000
    for i, line in enumerate(lines):
        record = json.loads(line)
        halves[i % 2].append(line)
        ev = record["event"]
        twin_host = "tie-" + ev["ehost"]
        ev["eurl"] = ev["eurl"].replace(ev["ehost"], twin_host, 1)
        ev["ehost"] = twin_host
        next_id += 1
        ev["recordid"] = str(next_id) if isinstance(ev.get("recordid"), str) else next_id
        halves[1 - i % 2].append(json.dumps(record))
    web.unlink()
    files = []
    for n, half in enumerate(halves):
        path = out / "night" / "zscaler" / f"zia_web_{n}.json"
        path.write_text("\n".join(half) + "\n", encoding="utf-8")
        files.append(path)
    others = sorted(p for p in (out / "night" / "zscaler").iterdir() if p not in files)
    return night, files, others


def perform(workdir: Path, night, web_files, other_files, *, threads: int, pdf: bool = True,
            monkeypatch=None) -> dict:
    """ingest + analyze + report from scratch; returns everything an auditor compares. Each command a
    `python -m zsaudit` process, or with monkeypatch given, in this process (CliRunner), the same
    environment set for it (ZSAUDIT_INGEST_THREADS is read at import: set where it was read), and
    the analysis and the pack optimized as a large store's are."""
    workdir.mkdir()
    settings = {"ZSAUDIT_THREADS": str(threads), "ZSAUDIT_INGEST_THREADS": str(threads),
                "ZSAUDIT_DB": str(workdir / "z.duckdb")}
    env = {**os.environ, **settings}
    if monkeypatch is not None:
        monkeypatch.setattr(zscaler, "INGEST_THREADS", str(threads))
        monkeypatch.setattr(queries, "SMALL_STORE_ROWS", 0)
    period = ["--since", night.since.isoformat(), "--until", night.until.isoformat()]
    airflow = night.out_dir / "airflow"
    for args in (["ingest", "zscaler", *web_files, *other_files],
                 ["ingest", "airflow", airflow / "logs", airflow / "task_instances.json"],
                 ["analyze", "--identity-map", night.identity_path, *period],
                 ["report", "--out", workdir / "pack", "--generated-at", GENERATED_AT, *period,
                  *([] if pdf else ["--no-pdf"])]):
        if monkeypatch is not None:
            res = CliRunner().invoke(main, list(map(str, args)), env=settings)
            assert res.exit_code == 0, (args, res.output[-3000:])
            continue
        res = subprocess.run([sys.executable, "-m", "zsaudit", *map(str, args)],
                             capture_output=True, text=True, env=env, timeout=600)
        assert res.returncode == 0, (args, res.stderr[-3000:])
    con = duckdb.connect(str(workdir / "z.duckdb"), read_only=True)
    try:
        tables = {t: con.execute(f"SELECT * EXCLUDE (analysis_id) FROM {t} ORDER BY ALL").fetchall()
                  for t in ("findings", "attributions", "not_evaluable")}
    finally:
        con.close()
    pack = workdir / "pack"
    files = {p.relative_to(pack).as_posix(): p.read_bytes() for p in sorted(pack.rglob("*")) if p.is_file()}
    return {"tables": tables, "pack": files}


@pytest.mark.slow
def test_same_inputs_same_findings_attributions_and_pack(tied_night, tmp_path, monkeypatch):
    night, web, others = tied_night
    runs = {
        "threads 1, files in order": perform(tmp_path / "a", night, web, others, threads=1),
        "threads 2, files reversed": perform(tmp_path / "b", night, web[::-1], others[::-1], threads=2),
        "threads 2, files in order, optimized": perform(tmp_path / "c", night, web, others, threads=2,
                                                         pdf=False, monkeypatch=monkeypatch),
    }
    (first_name, first), *rest = runs.items()
    assert first["tables"]["findings"], "the tied night raises findings"
    # the PDF is compared too, byte for byte: WeasyPrint's dates and font subset names come from
    # the pack's generated_at (SOURCE_DATE_EPOCH while it writes), not from the clock
    assert first["pack"]["audit-pack.pdf"].startswith(b"%PDF-"), "the pack has its PDF"
    assert any(str(row).count("tie-") for row in first["tables"]["findings"]), "ties reach the findings"
    for name, other in rest:
        for table, rows in first["tables"].items():
            assert other["tables"][table] == rows, f"{table}: {name} differs from {first_name}"
        expected = first["pack"]
        if "audit-pack.pdf" not in other["pack"]:   # a run without its PDF: the same pack but for it
            expected = {f: b for f, b in expected.items() if f != "audit-pack.pdf"}
            manifest = json.loads(expected["manifest.json"])
            del manifest["files"]["audit-pack.pdf"]
            assert json.loads(other["pack"]["manifest.json"]) == manifest, f"manifest of {name}"
            expected["manifest.json"] = other["pack"]["manifest.json"]
        assert sorted(other["pack"]) == sorted(expected)
        differ = [f for f in expected if other["pack"][f] != expected[f]]
        assert differ == [], f"pack files of {name} differ from {first_name}: {differ}"
