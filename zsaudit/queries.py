"""Load SQL from queries/ by name. SQL is never assembled from user input: values are bound."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .resources import queries_dir


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """Text of queries/<name>.sql, e.g. load("findings/token_gap")."""
    path = (queries_dir() / f"{name}.sql").resolve()
    root = queries_dir().resolve()
    if root not in path.parents:
        raise ValueError(f"query name {name!r} escapes {root}")
    return path.read_text(encoding="utf-8")


def names(folder: str) -> list[str]:
    """Sorted query names below queries/<folder>/ (without the .sql suffix)."""
    base = queries_dir() / folder
    return sorted(f"{folder}/{p.stem}" for p in base.glob("*.sql"))


def path_of(name: str) -> Path:
    return queries_dir() / f"{name}.sql"
