"""The chain of nightly packs: each night's manifest.json records the previous night's manifest sha256.

A packs folder (pack.out_dir) holds one folder per UTC night, named YYYY-MM-DD. When a night is
rendered, its manifest gets a "chain" entry naming the nearest earlier night pack in the folder
and the sha256 of that night's manifest.json (or saying, explicitly, that it is the first night).
A night deleted, rewritten or re-rendered afterwards no longer matches what the next night
recorded, and `verify_chain` names it. The newest night has no successor to vouch for it: keep
its manifest sha256 (printed by `zsaudit run`) where the packs' holder cannot edit it, or sign
the manifests (signing.py).

    nightly_manifests(root, since, until)  every night pack in [since, until) with its manifest sha256
    link(root, night)                      the "chain" entry for a night about to be rendered
    verify_chain(root, ...)                every night checked in order; the first break named
    retire(root, night_dir)                retention: a night removed on purpose stays accounted for
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ..errors import BadInput, BadUsage
from ..ingest.ledger import sha256_file
from . import manifest

NIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RETIRED = ".zsaudit-retired.json"   # nights removed by pack.retention_days (hidden: ignored by claim_dir)
RETIRED_FORMAT = "zsaudit-retired/1"
RULE = ("previous: the nearest earlier night pack (a folder named YYYY-MM-DD) in the same packs folder "
        "when this night was rendered, with the sha256 of its manifest.json; null: there was none")


@dataclass(frozen=True)
class NightManifest:
    """One night pack of a packs folder: its night, folder and the sha256 of its manifest.json."""

    night: date
    path: Path
    manifest_sha256: str

    def to_json(self) -> dict:
        return {"night": self.night.isoformat(), "pack": self.path.name, "manifest_sha256": self.manifest_sha256}


def night_of(name: str) -> date | None:
    if not NIGHT.match(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def _as_date(value) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        t = value.astimezone(timezone.utc) if value.tzinfo else value
        # an end at midnight excludes that night; any later time includes it
        return t.date() if t.time() == datetime.min.time() else t.date() + timedelta(days=1)
    return _as_date(datetime.fromisoformat(str(value)))


def night_dirs(root: str | os.PathLike) -> list[tuple[date, Path]]:
    """The folders of `root` named after a UTC night (YYYY-MM-DD), oldest first (packs or not)."""
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: no such folder; expected the packs folder of `zsaudit run` (pack.out_dir)")
    out = []
    for p in root.iterdir():
        night = night_of(p.name)
        if night is not None and p.is_dir() and not p.is_symlink():
            out.append((night, p))
    return sorted(out)


def nightly_manifests(root: str | os.PathLike, since=None, until=None) -> list[NightManifest]:
    """Every night pack of the packs folder `root` whose night lies in [since, until), oldest
    first, with the sha256 of its manifest.json as it is now (what a period pack built from these
    nights records). since/until: dates, or datetimes (an until at midnight excludes that night).
    Folders without a readable manifest are left out: `verify_chain` reports them."""
    lo, hi = _as_date(since), _as_date(until)
    out = []
    for night, path in night_dirs(root):
        if (lo is not None and night < lo) or (hi is not None and night >= hi):
            continue
        try:
            manifest.load(path)
        except BadInput:
            continue
        out.append(NightManifest(night, path, sha256_file(path / manifest.MANIFEST)))
    return out


def missing_nights(nights: list[NightManifest], since, until) -> list[date]:
    """The nights of [since, until) with no pack among `nights`."""
    have = {n.night for n in nights}
    lo, hi = _as_date(since), _as_date(until)
    return [lo + timedelta(days=i) for i in range((hi - lo).days) if lo + timedelta(days=i) not in have]


def link(root: str | os.PathLike, night: date) -> dict:
    """The manifest's "chain" entry for `night`, about to be rendered into root/<night>/."""
    previous = None
    if Path(root).is_dir():
        earlier = [n for n in nightly_manifests(root, until=night) if n.night < night]
        if earlier:
            p = earlier[-1]
            previous = {"night": p.night.isoformat(), "manifest_sha256": p.manifest_sha256}
    entry = {"night": night.isoformat(), "previous": previous, "rule": RULE}
    if previous is None:
        entry["first"] = True   # said explicitly: a missing link is not silently a first night
    return entry


# -- retention ----------------------------------------------------------------------------------
def _read_retired(root: Path) -> dict:
    path = root / RETIRED
    if not path.is_file():
        return {}
    data = manifest.read_json(path, "the record of nights removed by retention")
    if not isinstance(data, dict) or data.get("format") != RETIRED_FORMAT or not isinstance(data.get("nights"), dict):
        raise BadInput(f"{path}: expected {{\"format\": \"{RETIRED_FORMAT}\", \"nights\": {{...}}}}")
    return data["nights"]


def retire(root: str | os.PathLike, night_dir: Path) -> None:
    """Record a night about to be deleted by retention (its manifest sha256), so the chain of the
    nights after it still verifies: the record says the night was removed on purpose."""
    root = Path(root)
    night = night_of(night_dir.name)
    mpath = night_dir / manifest.MANIFEST
    if night is None or not mpath.is_file():
        return
    nights = _read_retired(root)
    nights[night.isoformat()] = {"manifest_sha256": sha256_file(mpath)}
    data = {"format": RETIRED_FORMAT, "nights": dict(sorted(nights.items()))}
    tmp = root / f"{RETIRED}.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, root / RETIRED)


# -- verification -------------------------------------------------------------------------------
@dataclass
class ChainReport:
    root: Path
    nights: list[date] = field(default_factory=list)          # every night folder checked, in order
    breaks: list[tuple[date, str]] = field(default_factory=list)   # (the night at fault, what is wrong)
    notes: list[str] = field(default_factory=list)             # facts that are not breaks (gaps, backfills)

    @property
    def first_break(self) -> tuple[date, str] | None:
        return min(self.breaks, key=lambda b: b[0]) if self.breaks else None

    def lines(self) -> list[str]:
        return [f"night {n.isoformat()}: {text}" for n, text in sorted(self.breaks, key=lambda b: b[0])]


def _span(a: date, b: date) -> str:
    return a.isoformat() if a == b else f"{a.isoformat()} .. {b.isoformat()}"


def verify_chain(root: str | os.PathLike, *, public_keys=None, head_sha256: str | None = None) -> ChainReport:
    """Check every night of the packs folder `root` in order: each pack against its manifest,
    each manifest's link to the previous night (present, same manifest sha256), the signatures
    when public_keys are given, and the newest manifest against head_sha256 when given.
    Breaks are attributed to the night at fault: a deleted night, a rewritten one, an edited file."""
    root = Path(root)
    expected_head = None
    if head_sha256 is not None:
        expected_head = head_sha256.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", expected_head):
            raise BadUsage(f"--manifest-sha256 {head_sha256!r}: expected 64 hexadecimal digits "
                           "(the newest night's manifest sha256, as `zsaudit run` printed it)")
    dirs = night_dirs(root)
    if not dirs:
        raise BadInput(f"{root}: no night packs (folders named YYYY-MM-DD); expected the packs folder of "
                       "`zsaudit run` (pack.out_dir)")
    retired = _read_retired(root)
    report = ChainReport(root=root, nights=[n for n, _ in dirs])
    present = {n: p for n, p in dirs}
    digests: dict[date, str] = {}
    manifests: dict[date, dict] = {}
    for night, path in dirs:
        try:
            manifests[night] = manifest.load(path)
        except BadInput as exc:
            report.breaks.append((night, f"not a pack: {exc}"))
            continue
        digests[night] = sha256_file(path / manifest.MANIFEST)
        for problem in manifest.verify(path, public_keys=public_keys):
            report.breaks.append((night, problem))
    order = [n for n, _ in dirs]
    for i, night in enumerate(order):
        if night not in manifests:
            continue
        entry = manifests[night].get("chain")
        if not isinstance(entry, dict) or "previous" not in entry:
            report.breaks.append((night, "not chained: its manifest.json has no \"chain\" entry (a night "
                                         "rendered by `zsaudit run` records its previous night)"))
            continue
        if entry.get("night") != night.isoformat():
            report.breaks.append((night, f"the folder {night.isoformat()} holds the pack of night "
                                         f"{entry.get('night')!r} (a night renamed or copied)"))
        before = order[:i]
        prev = entry["previous"]
        if prev is None:
            if before:
                report.notes.append(f"night {night.isoformat()} was the first night when rendered; nights "
                                    f"{_span(before[0], before[-1])} before it were rendered later (backfill)")
            continue
        pnight = night_of(str(prev.get("night", ""))) if isinstance(prev, dict) else None
        psha = prev.get("manifest_sha256") if isinstance(prev, dict) else None
        if pnight is None or not isinstance(psha, str) or pnight >= night:
            report.breaks.append((night, f"forged: its chain entry names no earlier night ({prev!r})"))
            continue
        if pnight not in present:
            gone = retired.get(pnight.isoformat())
            if isinstance(gone, dict) and gone.get("manifest_sha256") == psha and all(pnight < n for n in order):
                report.notes.append(f"night {pnight.isoformat()} (linked from {night.isoformat()}) was removed by "
                                    "pack.retention_days, as recorded in " + RETIRED)
                continue
            earlier = [n for n in before if n < pnight]
            where = f"between {earlier[-1].isoformat()} and {night.isoformat()}" if earlier else \
                    f"before {night.isoformat()}"
            report.breaks.append((pnight, f"missing: night {pnight.isoformat()} {where} is gone; night "
                                          f"{night.isoformat()} links to it (manifest sha256 {psha})"))
            continue
        if pnight in digests and digests[pnight] != psha:
            report.breaks.append((pnight, f"rewritten: its manifest.json has sha256 {digests[pnight]}, but night "
                                          f"{night.isoformat()} recorded {psha} (the night was edited or re-rendered "
                                          "after the next one)"))
        between = [n for n in before if pnight < n]
        if between:
            report.notes.append(f"nights {_span(between[0], between[-1])} were rendered after night "
                                f"{night.isoformat()} (backfill): it links to {pnight.isoformat()}")
        gap = (night - pnight).days - 1 - len(between)
        if gap > 0:
            report.notes.append(f"no pack for {gap} night(s) between {pnight.isoformat()} and {night.isoformat()}: "
                                f"none existed when {night.isoformat()} was rendered")
    if expected_head is not None:
        head = order[-1]
        if digests.get(head) != expected_head:
            report.breaks.append((head, f"head: the newest night's manifest.json has sha256 {digests.get(head)}, "
                                        f"expected {expected_head} (the newest night was rewritten, or a later "
                                        "night deleted)"))
    return report
