"""Where the project's data files live: SQL in queries/, templates in report_templates/.

Both sit at the repository root (one home each, see docs/architecture.md). The package is
installed editable (`pip install -e .`), so they are found next to the package directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent


def _find(name: str) -> Path:
    for candidate in (ROOT / name, Path(sys.prefix) / "share" / "zsaudit" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"zsaudit cannot find its {name}/ directory next to {PACKAGE_DIR}; "
        "install it with `pip install -e <checkout>`"
    )


def queries_dir() -> Path:
    return _find("queries")


def templates_dir() -> Path:
    return _find("report_templates")
