"""How many ingest workers (files, or Airflow log batches, staged at once): one setting for both
ingesters. First of: the CLI's --workers, ZSAUDIT_INGEST_WORKERS, `[ingest] workers` of
zsaudit.toml, the cores this process may run on (taskset, cgroups' cpusets). Memory grows with
it (docs/running.md)."""

from __future__ import annotations

import os

from ..errors import BadUsage

ENV = "ZSAUDIT_INGEST_WORKERS"
MAX_WORKERS = 64
EXPECTED = f"a whole number of ingest workers from 1 to {MAX_WORKERS}"


def cores() -> int:
    """The cores this process may run on, at most MAX_WORKERS."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(n or 1, MAX_WORKERS))


def is_count(value) -> bool:
    """True when `value` is a worker count: an int (not a bool) from 1 to MAX_WORKERS."""
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= MAX_WORKERS


def check(value, what: str) -> int:
    """`value` as a worker count, or BadUsage naming `what` (the option, variable or key)."""
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            raise BadUsage(f"{what}={value!r}: expected {EXPECTED}")
        value = int(value)
    if not is_count(value):
        raise BadUsage(f"{what}: expected {EXPECTED}, got {value!r}")
    return value


def resolve(option: int | None = None, configured: int | None = None, environ=None) -> int:
    """The worker count: `option` (--workers), else $ZSAUDIT_INGEST_WORKERS, else `configured`
    (`[ingest] workers`, checked when the config was read), else cores()."""
    if option is not None:
        return check(option, "--workers")
    raw = (os.environ if environ is None else environ).get(ENV, "").strip()
    if raw:
        return check(raw, ENV)
    if configured is not None:
        return configured
    return cores()
