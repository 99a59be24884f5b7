"""One module per command group; importing them registers the commands on the CLI.

base.py holds the groups, the shared options and the error handling; zsaudit/cli.py is the
entry point.
"""

from . import analyze, ingest_airflow, ingest_zscaler, receive, report, run, synth  # noqa: F401
from .base import main

__all__ = ["main"]
