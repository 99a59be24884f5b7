"""A new, empty store for a test.

zsaudit's Store makes a process' second and later new stores as copies of one it migrated once
(zsaudit/store.py, _Template: ~0.08 against ~0.26 CPU-s a store), so a test needs nothing of its
own for that; this only refuses a path that holds a store already, so a test never starts from
another's rows. tests/test_store.py creates its stores itself: that is where a new store's schema,
the migrations and the template copy are tested.
"""

from __future__ import annotations

from pathlib import Path

from zsaudit.store import Store


def new_store(path: Path) -> Store:
    """A store at `path` (which must not exist yet), empty and at the latest schema version."""
    if path.exists():
        raise FileExistsError(path)
    return Store(path)
