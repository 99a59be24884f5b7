"""`zsaudit demo`: a synthetic night through the whole pipeline, with no set-up."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.report import verify

KINDS = ("unmapped_identity", "token_gap", "silent_failure", "egress_bypass", "unattributed_egress")


def line_value(output: str, prefix: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith(prefix))[len(prefix):].strip()


def test_demo_finds_every_planted_kind_and_says_where_the_pack_is(demo_run):
    out, text = demo_run   # `zsaudit demo --out DIR`, the defaults `make demo` uses (conftest.py)
    truth = json.loads((out / "input" / "truth.json").read_text())
    planted = {f["kind"] for f in truth["findings"] if f["status"] == "open"}
    assert planted == set(KINDS)                                       # every kind is planted
    for kind in KINDS:
        found = int(line_value(text, kind).split()[0])
        assert found >= 1, f"{kind}: planted but not found\n{text}"
    html, pdf = Path(line_value(text, "HTML:")), Path(line_value(text, "PDF:"))
    assert html.is_file() and html.name == "index.html" and html.is_absolute()
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"
    assert html.parent == (out / "packs" / truth["period"]["since"][:10]).resolve()
    assert verify(html.parent) == []
    # the pack's words, in the number the count needs ("1 accepted risk", never "1 accepted risks")
    accepted = re.search(r"(\d+) accepted (risks?) \(approved (exceptions?)\)", text)
    assert accepted, text
    n = int(accepted.group(1))
    assert (accepted.group(2), accepted.group(3)) == (("risk", "exception") if n == 1 else ("risks", "exceptions"))
    assert "zsaudit findings --db" in text                             # where to go next
    # a realistic night: several workers, several DAGs, retries and mapped tasks among the attempts
    dags = {p.name for p in (out / "input" / "airflow" / "logs").iterdir()}
    assert len(dags) >= 5
    assert (out / "input" / "identity.toml").read_text().count("[[worker]]") >= 3


def test_demo_again_replaces_its_own_directory(tmp_path):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--requests", "200", "--no-pdf", "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    (out / "scratch.txt").write_text("left over from the last demo")
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and again.stdout == ""
    assert not (out / "scratch.txt").exists()
    assert len(list((out / "packs").glob("*/index.html"))) == 1
    assert not list((out / "packs").glob("*/audit-pack.pdf"))


def test_demo_refuses_a_directory_that_is_not_a_demo(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    result = CliRunner().invoke(main, ["demo", "--out", str(mine)])
    assert result.exit_code == 2
    assert "not empty" in result.output and "--out" in result.output
    assert (mine / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]


def test_demo_writes_to_zsaudit_demo_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo", "--requests", "200", "--no-pdf"])
    assert result.exit_code == 0, result.output
    html = Path(line_value(result.stdout, "HTML:"))
    assert html.is_relative_to(tmp_path.resolve() / "zsaudit-demo")
    assert "PDF:" not in result.stdout
