"""Load SQL from queries/ by name. SQL is never assembled from user input: values are bound."""

from __future__ import annotations

import re
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


_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")


def statements(name: str) -> list[str]:
    """The statements of queries/<name>.sql (our own files: no ';' ending a line inside a literal)."""
    return [s.strip() for s in _STATEMENT_END.split(load(name)) if s.strip()
            and not all(line.strip().startswith("--") or not line.strip() for line in s.splitlines())]


def run(con, name: str, params: dict | None = None) -> None:
    """Run every statement of queries/<name>.sql in order, binding only the $params each one names."""
    params = params or {}
    for sql in statements(name):
        con.execute(sql, {p: params[p] for p in set(_PARAM.findall(sql))})
