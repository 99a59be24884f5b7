"""Portable packs: input files are named relative to a source root, never by the building machine's paths.

One root per source family (`zscaler`, `airflow`): the deepest directory that holds every input
file of that family, above any Airflow `key=value` directory (so a task log keeps its
`dag_id=.../run_id=.../task_id=...` path). The pack names each root once, by its family; `queries/report/pack_paths.sql`
turns every stored path into `<family>/<path below the root>` for the evidence and the manifest.
Locations that are not file paths (a postgresql:// URL) are shown as given.
"""

from __future__ import annotations

import posixpath

ZSCALER_KINDS = ("zia_", "zpa_")
DESCRIPTIONS = {
    "zscaler": "Zscaler NSS / LSS feeds (ZIA web, firewall, DNS; ZPA user activity and status)",
    "airflow": "Airflow task logs, metadata exports and component logs",
}


def family(source_kind: str) -> str:
    return "zscaler" if source_kind.startswith(ZSCALER_KINDS) else "airflow"


def source_roots(run) -> list[dict]:
    """[{name, root, files, description}] from the ledger's paths; registers _pack_paths."""
    by_family: dict[str, list[str]] = {}
    for row in run.rows("report/ledger_paths"):
        path = row["path"]
        if "://" in path or not posixpath.isabs(path):
            continue
        by_family.setdefault(family(row["source_kind"]), []).append(path)
    roots = []
    for name in sorted(by_family):
        root = posixpath.commonpath(sorted({posixpath.dirname(p) for p in by_family[name]}))
        while "=" in posixpath.basename(root):   # keep Airflow's dag_id=/run_id=/task_id= levels in the names
            root = posixpath.dirname(root)
        roots.append({"name": name, "root": root, "files": len(by_family[name]),
                      "description": DESCRIPTIONS[name]})
    run.rows("report/pack_paths", roots=[r["root"] for r in roots], names=[r["name"] for r in roots])
    return roots

