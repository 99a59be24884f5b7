"""The folder of dated audit packs the nightly job writes (pack.out_dir): claimed before any pack is
written there, and old packs removed by pack.retention_days. A pack itself is rendered aside and
swapped in whole by zsaudit/output.py."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from .config import Config
from .output import claim_dir

_DATED = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T\d{4}Z)?(?:--[0-9TZ-]+)?$")
PACKS_MARKER = ".zsaudit-packs"


def _is_dated_pack(p: Path) -> bool:
    return p.is_dir() and bool(_DATED.match(p.name)) and (p / "manifest.json").is_file()


def claim_packs_dir(config: Config) -> Path:
    """pack.out_dir must be zsaudit's own folder, since retention deletes old packs in it: new,
    empty, holding only dated packs, or marked with PACKS_MARKER by its user. The filesystem
    root, a home folder or a shared folder are refused (exit 2) before any pack is written there."""
    return claim_dir(config.pack_dir, marker=PACKS_MARKER, what=f"{config.where('pack.out_dir')} =",
                     purpose="the dated audit packs of `zsaudit run`, old ones deleted by pack.retention_days "
                             f"(if the folder is meant for them, create {config.pack_dir / PACKS_MARKER} to say so)",
                     also_ours=_is_dated_pack, mark=False)


def apply_retention(config: Config, until: datetime, *, keep: str | None = None) -> list[str]:
    """Delete dated packs whose period starts more than retention_days before `until`.
    Only directories zsaudit wrote (a dated name and a manifest.json) are touched."""
    if not config.retention_days or not config.pack_dir.is_dir():
        return []
    from .report import chain

    cutoff = (until - timedelta(days=config.retention_days)).date()
    removed = []
    for p in sorted(config.pack_dir.iterdir()):
        m = _DATED.match(p.name)
        if not m or p.name == keep or not _is_dated_pack(p):
            continue
        if datetime.strptime(m.group(1), "%Y-%m-%d").date() < cutoff:
            chain.retire(config.pack_dir, p)   # the next night's link to it stays accounted for
            shutil.rmtree(p)
            removed.append(p.name)
    return removed
