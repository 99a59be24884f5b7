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
from pathlib import Path

from ..errors import BadInput, ZsauditError
from ..ingest.ledger import sha256_file

MANIFEST = "manifest.json"
FORMAT = "zsaudit-pack/1"
RENDERINGS = ("index.html", "audit-pack.pdf")  # they show the evidence digest, so it cannot cover them
EVIDENCE_DIGEST_RULE = ("sha256 of the lines '<sha256>  <path>\\n' of every file of the pack but "
                        "index.html, audit-pack.pdf and manifest.json, sorted by path")


class PackTampered(ZsauditError):
    """The pack does not match its manifest (exit code 1, like any other failed check)."""

    exit_code = 1


def pack_files(out_dir: Path) -> list[str]:
    """Every regular file below out_dir (but the manifest), as sorted POSIX relative paths."""
    out = []
    for p in sorted(out_dir.rglob("*")):
        if p.is_file() or p.is_symlink():
            rel = p.relative_to(out_dir).as_posix()
            if rel != MANIFEST:
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


def load(pack_dir: Path) -> dict:
    if not pack_dir.is_dir():
        raise BadInput(f"{pack_dir}: no such directory; expected an audit pack written by `zsaudit report`")
    path = pack_dir / MANIFEST
    if not path.is_file():
        raise BadInput(f"{path}: missing; {pack_dir} is not an audit pack (or its manifest was deleted)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: not valid JSON ({exc}); the manifest is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BadInput(f"{path}: expected a zsaudit pack manifest (\"format\": \"{FORMAT}\" and a \"files\" object)")
    return manifest


def verify(pack_dir, *, manifest_sha256: str | None = None) -> list[str]:
    """Problems found in the pack, one line each (empty list: the pack is intact).

    Raises BadInput when pack_dir is not a pack at all (no directory, no or unreadable manifest).
    """
    pack_dir = Path(pack_dir)
    manifest = load(pack_dir)
    problems = []
    if manifest_sha256:
        actual = sha256_file(pack_dir / MANIFEST)
        if actual.lower() != manifest_sha256.strip().lower():
            problems.append(f"changed: {MANIFEST} (sha256 {actual}, expected {manifest_sha256.strip().lower()})")
    listed = manifest["files"]
    for rel in sorted(listed):
        entry = listed[rel]
        p = pack_dir / rel
        if not p.is_file():
            problems.append(f"missing: {rel}")
            continue
        actual = sha256_file(p)
        if actual != entry.get("sha256"):
            problems.append(f"changed: {rel} (sha256 {actual}, manifest says {entry.get('sha256')})")
    for rel in pack_files(pack_dir):
        if rel not in listed:
            problems.append(f"added: {rel} (not in the manifest)")
    recorded = (manifest.get("evidence_digest") or {}).get("sha256")
    if recorded and not problems:
        actual = evidence_digest(pack_dir)
        if actual != recorded:
            problems.append(f"changed: evidence digest {actual}, manifest (and the PDF's cover) say {recorded}")
    return problems
