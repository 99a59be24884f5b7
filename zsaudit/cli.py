"""The `zsaudit` command line: a thin shell over the core modules (the entry point).

Each command parses its options, opens the store and calls one function of the core; the Airflow
DAG and `zsaudit demo` call the same functions. The groups, shared options and error handling are
zsaudit/commands/base.py; each command lives in its own module of zsaudit/commands/.
"""

from __future__ import annotations

from .commands import main

__all__ = ["main"]
