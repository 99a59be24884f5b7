"""manifest.json: what the pack is made of, with a sha256 for every file, and `verify`.

The manifest lists every file of the pack (but itself), the identity map and each query used, and
the input files from the ingest ledger. `verify` recomputes the hashes and names each file that
changed, went missing or was added. The manifest cannot vouch for itself: record its own sha256
(printed by `zsaudit report`) somewhere the pack's holder cannot edit, and pass it to
`zsaudit verify --manifest-sha256`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..errors import BadInput, BadUsage, ZsauditError
from ..ingest.ledger import sha256_file
from . import signing

MANIFEST = "manifest.json"
SIGNATURE = signing.SIGNATURE  # the Ed25519 signature of manifest.json's bytes, when signed
FORMAT = "zsaudit-pack/1"
RENDERINGS = ("index.html", "audit-pack.pdf")  # they show the evidence digest, so it cannot cover them
EVIDENCE_DIGEST_RULE = ("sha256 of the lines '<sha256>  <path>\\n' of every file of the pack but "
                        "index.html, audit-pack.pdf and manifest.json, sorted by path")


class PackTampered(ZsauditError):
    """The pack does not match its manifest (exit code 1, like any other failed check)."""

    exit_code = 1


def pack_files(out_dir: Path) -> list[str]:
    """Every regular file below out_dir (but the manifest and its signature), as sorted POSIX relative paths."""
    out = []
    for p in sorted(out_dir.rglob("*")):
        if p.is_file() or p.is_symlink():
            rel = p.relative_to(out_dir).as_posix()
            if rel not in (MANIFEST, SIGNATURE):
                out.append(rel)
    return sorted(out)


def evidence_digest(out_dir: Path) -> str:
    """The digest the cover prints: every file but the renderings and the manifest (EVIDENCE_DIGEST_RULE)."""
    lines = []
    for rel in pack_files(out_dir):
        if rel in RENDERINGS:
            continue
        lines.append(f"{sha256_file(out_dir / rel)}  {rel}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def build(out_dir: Path, *, header: dict) -> dict:
    files = {}
    for rel in pack_files(out_dir):
        p = out_dir / rel
        files[rel] = {"sha256": sha256_file(p), "size": p.stat().st_size}
    return {"format": FORMAT, **header, "files": files}


def write(out_dir: Path, manifest: dict) -> str:
    text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n"
    data = text.encode("utf-8")
    (out_dir / MANIFEST).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_json(path: Path, what: str):
    """A JSON file zsaudit wrote (a manifest, the record of retired nights); BadInput when damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: not valid JSON ({exc}); {what} is damaged") from None


def load(pack_dir: Path) -> dict:
    if not pack_dir.is_dir():
        raise BadInput(f"{pack_dir}: no such directory; expected an audit pack written by `zsaudit report`")
    path = pack_dir / MANIFEST
    if not path.is_file():
        raise BadInput(f"{path}: missing; {pack_dir} is not an audit pack (or its manifest was deleted)")
    manifest = read_json(path, "the manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BadInput(f"{path}: expected a zsaudit pack manifest (\"format\": \"{FORMAT}\" and a \"files\" object)")
    return manifest


def is_pack(folder: Path) -> bool:
    """An earlier pack that a new one may replace: a readable manifest listing every file present."""
    try:
        listed = load(folder)["files"]
    except BadInput:
        return False
    return all(rel in listed for rel in pack_files(folder))


_HEX64 = re.compile(r"[0-9a-f]{64}")
REQUIRED = ("index.html",)  # every pack has it: a manifest without it describes no pack


def _outside(pack_dir: Path, rel: str) -> bool:
    """A listed path that is not a plain relative path inside the pack ('../', absolute, a symlink
    out, backslashes or drive letters from another system)."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or "\\" in rel or ":" in parts[0] or any(p in ("", ".", "..") for p in parts):
        return True
    root = pack_dir.resolve()
    return root not in (pack_dir / rel).resolve().parents


def verify(pack_dir, *, manifest_sha256: str | None = None, public_keys=None) -> list[str]:
    """Problems found in the pack, one line each (empty list: the pack is intact).

    Checks what a forger would try: every listed file against its sha256, no file present that
    the manifest leaves out, no listed path outside the pack (../, absolute, a symbolic link out),
    no empty list. It cannot catch a manifest rewritten to match edited files: only
    --manifest-sha256 (the hash `report` printed, kept where the pack's holder cannot edit it)
    proves the manifest itself. Raises BadInput when pack_dir is not a pack at all (no
    directory, no or unreadable manifest) and BadUsage for a --manifest-sha256 that is not one.
    public_keys (Ed25519, signing.load_public_key): the manifest must be signed by one of them.
    """
    pack_dir = Path(pack_dir)
    expected = None
    if manifest_sha256 is not None:
        expected = manifest_sha256.strip().lower()
        if not _HEX64.fullmatch(expected):
            raise BadUsage(f"--manifest-sha256 {manifest_sha256!r}: expected 64 hexadecimal digits "
                           "(the manifest sha256 `zsaudit report` printed)")
    manifest = load(pack_dir)
    problems = []
    if expected:
        actual = sha256_file(pack_dir / MANIFEST)
        if actual != expected:
            problems.append(f"changed: {MANIFEST} (sha256 {actual}, expected {expected})")
    listed = manifest["files"]
    if not listed:
        problems.append(f"forged: {MANIFEST} lists no files (a pack lists every file it holds)")
    for rel in REQUIRED:
        if listed and rel not in listed:
            problems.append(f"forged: {MANIFEST} does not list {rel}, which every pack holds")
    for rel in sorted(listed):
        entry = listed[rel]
        if _outside(pack_dir, rel):
            problems.append(f"forged: {rel!r} in {MANIFEST} points outside the pack (not checked)")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            problems.append(f"forged: {rel} has no sha256 in {MANIFEST}")
            continue
        p = pack_dir / rel
        if p.is_symlink() or (p.exists() and not p.is_file()):
            problems.append(f"changed: {rel} is not a regular file")
            continue
        if not p.is_file():
            problems.append(f"missing: {rel}")
            continue
        actual = sha256_file(p)
        if actual != entry["sha256"]:
            problems.append(f"changed: {rel} (sha256 {actual}, manifest says {entry['sha256']})")
    for rel in pack_files(pack_dir):
        if rel not in listed:
            problems.append(f"added: {rel} (not in the manifest)")
    mpath = pack_dir / MANIFEST
    problems += signing.check(mpath, public_keys) if public_keys else signing.declared_problems(mpath, manifest)
    recorded = (manifest.get("evidence_digest") or {}).get("sha256")
    if recorded and not problems:
        actual = evidence_digest(pack_dir)
        if actual != recorded:
            problems.append(f"changed: evidence digest {actual}, manifest (and the PDF's cover) say {recorded}")
    return problems
