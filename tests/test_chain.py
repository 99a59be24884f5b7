"""The chain of nightly packs, end to end through the CLI on synthetic nights.

`zsaudit run --since D1 --until D5` backfills one pack per night, each manifest chained to the
previous night's; `zsaudit verify --chain` names the night of any deletion, edit or re-render;
Ed25519 signatures (`verify --public-key`) catch a manifest rewritten to match edited files;
a night that cannot be built is reported and the others go on.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit import pipeline
from zsaudit.packs import apply_retention
from zsaudit.cli import main
from zsaudit.config import load_config
from zsaudit.ingest.ledger import sha256_file
from zsaudit.report import chain
from zsaudit.synth import synthesize
from zsaudit.timeutil import parse_time

FIRST = date(2026, 7, 1)
NIGHTS = 4
NAMES = [(FIRST + timedelta(days=i)).isoformat() for i in range(NIGHTS)]
UNTIL = (FIRST + timedelta(days=NIGHTS)).isoformat()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Four synthetic nights (small, different seeds), read-only for every test of the module."""
    root = tmp_path_factory.mktemp("nights")
    for i, name in enumerate(NAMES):
        synthesize(root / name, requests=80, seed=20 + i, day=FIRST + timedelta(days=i))
    return root


def write_config(tmp_path: Path, inputs: Path, *extra: str) -> Path:
    zscaler = ", ".join(json.dumps(str(inputs / n / "zscaler")) for n in NAMES)
    airflow = ", ".join(json.dumps(str(inputs / n / "airflow" / p)) for n in NAMES
                        for p in ("logs", "task_instances.json"))
    path = tmp_path / "zsaudit.toml"
    path.write_text(
        f'db = "zsaudit.duckdb"\nidentity_map = {json.dumps(str(inputs / NAMES[0] / "identity.toml"))}\n'
        f"[zscaler]\npaths = [{zscaler}]\n[airflow]\npaths = [{airflow}]\n"
        '[pack]\nout_dir = "packs"\npdf = false\n' + "".join(f"{line}\n" for line in extra)
        + '[run]\nfail_on = "none"\n', encoding="utf-8")
    return path


def cli(*args, ok=(0,), env=None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    assert result.exit_code in ok, result.output
    return result


def backfill(config: Path, since=NAMES[0], until=UNTIL, ok=(0,), env=None):
    return cli("run", "--config", config, "--since", since, "--until", until, ok=ok, env=env)


@pytest.fixture(scope="module")
def packs(tmp_path_factory, inputs):
    """A backfilled packs folder of the four nights (copy it before changing it)."""
    tmp = tmp_path_factory.mktemp("backfill")
    config = write_config(tmp, inputs)
    first = backfill(config)
    for name in NAMES:
        assert f"night {name}: built" in first.output
    assert f"backfill: {NIGHTS} nights built, 0 already complete, 0 not built" in first.output
    return load_config(config).pack_dir


def with_backfilled_store(config: Path, packs: Path) -> Path:
    """`config` with a copy of the `packs` fixture's store (the four nights ingested and analysed)
    where its db is: for tests of how packs are built, not of ingest or analysis."""
    shutil.copy(packs.parent / "zsaudit.duckdb", config.parent / "zsaudit.duckdb")
    return config


def manifest_of(pack: Path) -> dict:
    return json.loads((pack / "manifest.json").read_text())


def test_backfill_chains_every_night_to_the_one_before(packs, tmp_path, inputs):
    links = [manifest_of(packs / n)["chain"] for n in NAMES]
    assert links[0]["previous"] is None and links[0]["first"] is True and links[0]["night"] == NAMES[0]
    for before, name, entry in zip(NAMES, NAMES[1:], links[1:]):
        assert entry["night"] == name
        assert entry["previous"] == {"night": before, "manifest_sha256": sha256_file(packs / before / "manifest.json")}
    # the cover shows the link an auditor can check by hand
    assert sha256_file(packs / NAMES[0] / "manifest.json") in (packs / NAMES[1] / "index.html").read_text()
    assert "the first night of this chain" in (packs / NAMES[0] / "index.html").read_text()
    result = cli("verify", "--chain", packs)
    assert f"chain intact: {NIGHTS} nights {NAMES[0]} .. {NAMES[-1]}" in result.output
    # what a period pack lists: every nightly manifest digest of the period
    listed = chain.nightly_manifests(packs, since=FIRST + timedelta(days=1), until=FIRST + timedelta(days=3))
    assert [(n.night.isoformat(), n.manifest_sha256) for n in listed] == [
        (n, sha256_file(packs / n / "manifest.json")) for n in NAMES[1:3]]
    assert chain.missing_nights(listed, FIRST, FIRST + timedelta(days=4)) == [FIRST, FIRST + timedelta(days=3)]


def test_backfill_again_skips_complete_nights(packs, tmp_path, inputs):
    copy = tmp_path / "packs"
    shutil.copytree(packs, copy)
    config = write_config(tmp_path, inputs)
    shutil.copy(packs.parent / "zsaudit.duckdb", tmp_path / "zsaudit.duckdb")
    before = {n: (copy / n / "manifest.json").read_bytes() for n in NAMES}
    again = backfill(config)
    assert f"backfill: 0 nights built, {NIGHTS} already complete, 0 not built" in again.output
    assert {n: (copy / n / "manifest.json").read_bytes() for n in NAMES} == before


def tamper_delete(packs: Path, night: str) -> None:
    shutil.rmtree(packs / night)


def tamper_edit(packs: Path, night: str) -> None:
    csv = sorted((packs / night / "evidence").glob("*.csv"))[0]
    csv.write_text(csv.read_text() + "forged,row\n")


def tamper_edit_consistently(packs: Path, night: str) -> None:
    """Edit a file and rewrite the manifest to match it: the pack verifies on its own."""
    pack = packs / night
    csv = sorted((pack / "evidence").glob("*.csv"))[0]
    csv.write_text(csv.read_text() + "forged,row\n")
    data = manifest_of(pack)
    rel = csv.relative_to(pack).as_posix()
    data["files"][rel] = {"sha256": sha256_file(csv), "size": csv.stat().st_size}
    from zsaudit.report import manifest
    data["evidence_digest"]["sha256"] = manifest.evidence_digest(pack)
    manifest.write(pack, data)


def tamper_rerender(packs: Path, night: str) -> None:
    """`zsaudit report` over the night again, at another generation time, into its folder."""
    d = date.fromisoformat(night)
    cli("report", "--db", packs.parent / "zsaudit.duckdb", "--out", packs / night, "--no-pdf", "--quiet",
        "--since", d.isoformat(), "--until", (d + timedelta(days=1)).isoformat(),
        "--generated-at", f"{(d + timedelta(days=3)).isoformat()}T06:00:00Z")


@pytest.mark.parametrize("tamper,expect", [
    (tamper_delete, "missing: night {night}"),
    (tamper_edit, "changed: evidence/"),
    (tamper_edit_consistently, "rewritten: its manifest.json has sha256"),
    (tamper_rerender, "rewritten: its manifest.json has sha256"),
])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_verify_chain_names_the_night_deleted_edited_or_rerendered(packs, tmp_path, tamper, expect, index):
    copy = tmp_path / "packs"
    shutil.copytree(packs, copy)
    shutil.copy(packs.parent / "zsaudit.duckdb", tmp_path / "zsaudit.duckdb")
    night = NAMES[index]
    tamper(copy, night)
    result = cli("verify", "--chain", copy, ok=(1,))
    assert f"chain broken at night {night}: " in result.output
    assert f"night {night}: {expect.format(night=night)}" in result.output
    assert not any(f"night {n}:" in result.output for n in NAMES[:index])   # earlier nights are fine


def test_the_newest_night_is_anchored_by_its_printed_manifest_sha256(packs, tmp_path):
    copy = tmp_path / "packs"
    shutil.copytree(packs, copy)
    head = sha256_file(copy / NAMES[-1] / "manifest.json")
    cli("verify", "--chain", copy, "--manifest-sha256", head)
    for tamper in (tamper_delete, tamper_edit_consistently):   # nothing after it vouches for the newest night
        shutil.rmtree(copy)
        shutil.copytree(packs, copy)
        tamper(copy, NAMES[-1])
        cli("verify", "--chain", copy)   # undetectable without an anchor: documented
        result = cli("verify", "--chain", copy, "--manifest-sha256", head, ok=(1,))
        assert "head: the newest night's manifest.json has sha256" in result.output
    assert "expected 64 hexadecimal digits" in cli("verify", "--chain", copy, "--manifest-sha256", "xyz", ok=(2,)).output


def test_verify_chain_bad_input(tmp_path, packs):
    assert "no such folder" in cli("verify", "--chain", tmp_path / "nope", ok=(2,)).output
    (tmp_path / "empty").mkdir()
    assert "no night packs" in cli("verify", "--chain", tmp_path / "empty", ok=(2,)).output
    assert "not both" in cli("verify", packs / NAMES[0], "--chain", packs, ok=(2,)).output
    assert "give a PACK folder" in cli("verify", ok=(2,)).output


def test_retention_keeps_the_chain_verifiable(packs, tmp_path, inputs):
    copy = tmp_path / "packs"
    shutil.copytree(packs, copy)
    config = load_config(write_config(tmp_path, inputs, "retention_days = 2"))
    from dataclasses import replace

    removed = apply_retention(replace(config, pack_dir=copy), parse_time(UNTIL))
    assert removed == NAMES[:2]
    result = cli("verify", "--chain", copy)
    assert f"night {NAMES[1]} (linked from {NAMES[2]}) was removed by pack.retention_days" in result.output
    # a night deleted by hand is not retention
    shutil.rmtree(copy / NAMES[2])
    assert f"chain broken at night {NAMES[2]}: missing" in cli("verify", "--chain", copy, ok=(1,)).output


def test_backfill_over_a_gap(tmp_path, inputs, packs):
    """A night that cannot be built says why, the others go on (exit 2) chained past it; once
    the obstacle is gone the backfill builds only that night, and the chain still verifies.
    On a copy of the backfilled store: what a night's pack is built from is already there."""
    config = with_backfilled_store(write_config(tmp_path, inputs), packs)
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / ".zsaudit-packs").write_text("packs\n")
    (packs / NAMES[1]).mkdir()
    (packs / NAMES[1] / "notes.txt").write_text("someone's notes\n")       # not a pack: never replaced
    first = backfill(config, ok=(2,))
    assert f"night {NAMES[1]}: NOT BUILT: " in first.output and "notes.txt" in first.output
    assert "backfill: 3 nights built, 0 already complete, 1 not built, of 4" in first.output
    assert f"1 of 4 nights not built ({NAMES[1]})" in first.output
    assert manifest_of(packs / NAMES[2])["chain"]["previous"]["night"] == NAMES[0]   # chained past the gap
    shutil.rmtree(packs / NAMES[1])
    result = cli("verify", "--chain", packs)
    assert f"no pack for 1 night(s) between {NAMES[0]} and {NAMES[2]}" in result.output
    second = backfill(config)
    assert f"night {NAMES[1]}: built" in second.output
    assert "backfill: 1 nights built, 3 already complete, 0 not built" in second.output
    result = cli("verify", "--chain", packs)
    assert f"chain intact: {NIGHTS} nights" in result.output
    assert f"nights {NAMES[1]} were rendered after night {NAMES[2]} (backfill)" in result.output


def write_keypair(folder: Path, name: str = "signing") -> tuple[Path, Path]:
    """An Ed25519 key pair as `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    private.chmod(0o600)
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def test_signed_nights_and_a_manifest_rewritten_to_match(tmp_path, inputs, packs):
    """Signed manifests: the cover and manifest show the key's fingerprint; a manifest rewritten to
    match an edited file verifies on its own, and only the signature catches it, naming the night.
    On a copy of the backfilled store: the packs are signed as they are rendered."""
    from zsaudit.report import signing

    private, public = write_keypair(tmp_path)
    _, other = write_keypair(tmp_path, "other")
    config = with_backfilled_store(write_config(tmp_path, inputs), packs)
    packs = tmp_path / "packs"
    backfill(config, until=NAMES[2], env={"ZSAUDIT_SIGNING_KEY": str(private)})
    fp = signing.fingerprint(signing.load_public_key(public))
    for name in NAMES[:2]:
        assert manifest_of(packs / name)["signing"]["public_key_fingerprint"] == fp
        assert fp in (packs / name / "index.html").read_text()
        cli("verify", packs / name, "--public-key", public)
    assert "signed by a trusted key" in cli("verify", "--chain", packs, "--public-key", public).output
    assert "signed by another key" in cli("verify", "--chain", packs, "--public-key", other, ok=(1,)).output
    cli("verify", "--chain", packs, "--public-key", other, "--public-key", public)   # a rotation: both trusted

    tamper_edit_consistently(packs, NAMES[1])     # the newest night: no later night vouches for it
    cli("verify", packs / NAMES[1])
    result = cli("verify", "--chain", packs, "--public-key", public, ok=(1,))
    assert f"chain broken at night {NAMES[1]}: bad signature: manifest.json does not match manifest.sig" in result.output
    (packs / NAMES[1] / "manifest.sig").unlink()
    assert "missing: manifest.sig" in cli("verify", packs / NAMES[1], ok=(1,)).output
    assert "unsigned: no manifest.sig" in cli("verify", packs / NAMES[1], "--public-key", public, ok=(1,)).output


def test_signing_key_errors_name_the_key(tmp_path, inputs):
    config = write_config(tmp_path, inputs, 'signing_key = "missing.pem"')
    result = backfill(config, ok=(2,))
    assert "pack.signing_key" in result.output and "missing.pem: no such file" in result.output
    assert not list((tmp_path / "packs").glob("2026-*"))          # refused before any work
    _, public = write_keypair(tmp_path)
    config = write_config(tmp_path, inputs, f'signing_key = "{public.name}"')
    assert "not a PEM private key" in backfill(config, ok=(2,)).output
    assert "not a PEM public key" in cli("verify", "--chain", tmp_path, "--public-key", config, ok=(2,)).output
    private, _ = write_keypair(tmp_path, "shared")
    private.chmod(0o640)                                            # group-readable: refused, as ssh does
    result = backfill(write_config(tmp_path, inputs, f'signing_key = "{private.name}"'), ok=(2,))
    assert "permissions 0640 let other users read the private key" in result.output
    assert f"chmod 600 {private}" in result.output


def test_rerendering_a_night_under_later_nights_warns(packs, tmp_path, inputs):
    """`run` over an earlier night with other content (a late file arrived): the run says that
    the chain now reports the night as rewritten, and verify --chain does."""
    copy = tmp_path / "packs"
    shutil.copytree(packs, copy)
    shutil.copy(packs.parent / "zsaudit.duckdb", tmp_path / "zsaudit.duckdb")
    config = write_config(tmp_path, inputs)
    late = tmp_path / "late"
    synthesize(late, requests=80, seed=24, day=FIRST + timedelta(days=1))
    text = config.read_text().replace("paths = [", f"paths = [{json.dumps(str(late / 'zscaler'))}, ", 1)
    config.write_text(text)
    result = cli("run", "--config", config, "--since", NAMES[1], "--until", NAMES[2])
    assert f"warning: night {NAMES[1]} re-rendered with other content after later nights" in result.output
    assert f"chain broken at night {NAMES[1]}: rewritten" in cli("verify", "--chain", copy, ok=(1,)).output


def test_the_dag_stages_chain_their_nights(tmp_path, inputs):
    """The DAG's tasks (pipeline.run_stage, one stage each) chain each night to the one before."""
    config = load_config(write_config(tmp_path, inputs))
    for name in NAMES[:2]:
        d = date.fromisoformat(name)
        for stage in pipeline.STAGES:
            pipeline.run_stage(stage, config, since=d.isoformat(), until=(d + timedelta(days=1)).isoformat())
    assert manifest_of(config.pack_dir / NAMES[1])["chain"]["previous"] == {
        "night": NAMES[0], "manifest_sha256": sha256_file(config.pack_dir / NAMES[0] / "manifest.json")}
    result = chain.verify_chain(config.pack_dir)
    assert result.breaks == [] and result.nights == [FIRST, FIRST + timedelta(days=1)]
