"""`zsaudit verify`: a pack checked against its manifest names each file changed, missing or added.

Exit codes: 0 intact, 1 tampered (one line per problem), 2 not a pack (no or unreadable manifest).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import report_data
from zsaudit.cli import main
from zsaudit.errors import BadInput
from zsaudit.report import render, verify
from zsaudit.store import Store


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """report_data's pack, rendered once a module (without its PDF): each test tampers with a copy."""
    base = tmp_path_factory.mktemp("verify")
    with Store(base / "z.duckdb") as store:
        report_data.build(store, base)
        render(store, base / "pack", generated_at=report_data.GENERATED_AT, pdf=False)
    return base / "pack"


@pytest.fixture
def pack(rendered, tmp_path) -> Path:
    return Path(shutil.copytree(rendered, tmp_path / "pack", symlinks=True))


def run(*args):
    return CliRunner().invoke(main, ["verify", *map(str, args)])


def test_intact_pack(pack):
    assert verify(pack) == []
    res = run(pack)
    assert res.exit_code == 0 and "intact" in res.output


def test_modified_file_is_named(pack):
    csv = pack / "evidence" / "findings.csv"
    csv.write_bytes(csv.read_bytes().replace(b"high", b"low"))
    problems = verify(pack)
    assert len(problems) == 1 and problems[0].startswith("changed: evidence/findings.csv (sha256 ")
    res = run(pack)
    assert res.exit_code == 1
    assert "changed: evidence/findings.csv" in res.output


def test_deleted_file_is_named(pack):
    (pack / "index.html").unlink()
    assert verify(pack) == ["missing: index.html"]
    assert run(pack).exit_code == 1


def test_added_file_is_named(pack):
    (pack / "evidence" / "extra.csv").write_text("a,b\n")
    assert verify(pack) == ["added: evidence/extra.csv (not in the manifest)"]
    assert run(pack).exit_code == 1


def test_all_three_at_once(pack):
    (pack / "findings.ocsf.json").write_text("[]\n")
    (pack / "evidence" / "rejects.parquet").unlink()
    (pack / "notes.txt").write_text("hi")
    problems = verify(pack)
    assert [p.split(" ")[0] + " " + p.split(" ")[1] for p in problems] == [
        "missing: evidence/rejects.parquet", "changed: findings.ocsf.json", "added: notes.txt"]


def test_edited_manifest_is_caught_by_its_recorded_hash(pack):
    manifest = pack / "manifest.json"
    digest = __import__("hashlib").sha256(manifest.read_bytes()).hexdigest()
    # a tamperer edits a file and the manifest together: only the recorded hash shows it
    (pack / "index.html").write_text("<p>all good</p>")
    data = json.loads(manifest.read_text())
    data["files"]["index.html"]["sha256"] = __import__("hashlib").sha256(b"<p>all good</p>").hexdigest()
    manifest.write_text(json.dumps(data))
    assert verify(pack) == []
    problems = verify(pack, manifest_sha256=digest)
    assert problems and problems[0].startswith("changed: manifest.json")
    assert run(pack, "--manifest-sha256", digest).exit_code == 1


def test_not_a_pack_is_bad_usage(tmp_path):
    with pytest.raises(BadInput, match="manifest.json: missing"):
        verify(tmp_path)
    res = run(tmp_path)
    assert res.exit_code == 2 and "not an audit pack" in res.output
    assert run(tmp_path / "nowhere").exit_code == 2
    (tmp_path / "manifest.json").write_text("{not json")
    res = run(tmp_path)
    assert res.exit_code == 2 and "not valid JSON" in res.output


# -- what a forger would do (issue #18 item 8) ----------------------------------------------------
def forge(pack: Path, edit) -> None:
    manifest = pack / "manifest.json"
    data = json.loads(manifest.read_text())
    edit(data["files"])
    manifest.write_text(json.dumps(data))


@pytest.mark.parametrize("rel", ["../../../../etc/passwd", "/etc/passwd", "evidence/../../outside.txt",
                                 "evidence\\..\\..\\outside.txt", "C:/Windows/win.ini"])
def test_paths_outside_the_pack_are_refused(pack, tmp_path, rel):
    (tmp_path / "outside.txt").write_text("not the pack's")
    digest = __import__("hashlib").sha256(b"not the pack's").hexdigest()
    forge(pack, lambda files: files.__setitem__(rel, {"sha256": digest, "size": 14}))
    res = run(pack)
    assert res.exit_code == 1
    assert f"forged: {rel!r} in manifest.json points outside the pack" in res.output


def test_a_symlink_out_of_the_pack_is_refused(pack, tmp_path):
    (tmp_path / "outside.txt").write_text("x")
    (pack / "evidence" / "link.csv").symlink_to(tmp_path / "outside.txt")
    forge(pack, lambda files: files.__setitem__("evidence/link.csv", {"sha256": "0" * 64, "size": 1}))
    assert run(pack).exit_code == 1
    assert any("evidence/link.csv" in p and "outside the pack" in p for p in verify(pack))


def test_an_empty_file_list_is_refused(pack):
    for p in sorted(pack.rglob("*"), reverse=True):
        if p.name != "manifest.json":
            p.rmdir() if p.is_dir() else p.unlink()
    forge(pack, lambda files: files.clear())
    res = run(pack)
    assert res.exit_code == 1 and "lists no files" in res.output


def test_a_manifest_that_leaves_out_a_file_is_refused(pack):
    forge(pack, lambda files: files.pop("findings.ocsf.json"))
    res = run(pack)
    assert res.exit_code == 1 and "added: findings.ocsf.json (not in the manifest)" in res.output


def test_manifest_without_index_html_is_refused(pack):
    (pack / "index.html").unlink()
    forge(pack, lambda files: files.pop("index.html"))
    assert run(pack).exit_code == 1
    assert verify(pack) == ["forged: manifest.json does not list index.html, which every pack holds"]


@pytest.mark.parametrize("value", ["nothex", "abc", "g" * 64, "0" * 63])
def test_manifest_sha256_that_is_not_a_sha256_is_a_usage_error(pack, value):
    res = run(pack, "--manifest-sha256", value)
    assert res.exit_code == 2, res.output
    assert "expected 64 hexadecimal digits" in res.output and "Traceback" not in res.output
