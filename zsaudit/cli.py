"""The `zsaudit` command line: a thin shell over the core modules.

Each command parses its options, opens the store and calls one function of the core; the Airflow
DAG and `zsaudit demo` call the same functions. Errors become plain messages and exit codes:
0 ok, 1 findings at or above --fail-on, 2 bad usage or bad input.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ZsauditError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def db_option(func):
    """--db PATH, shared by every command that touches the store."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="ZSAUDIT_DB",
        default="zsaudit.duckdb",
        show_default=True,
        show_envvar=True,
        help="The zsaudit DuckDB file.",
    )(func)


def quiet_option(func):
    return click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")(func)


def period_options(func):
    func = click.option("--until", "until", default=None, metavar="TIME",
                        help="End of the period, exclusive (ISO 8601 date or time, UTC unless it says).")(func)
    func = click.option("--since", "since", default=None, metavar="TIME",
                        help="Start of the period, inclusive (ISO 8601 date or time, UTC unless it says).")(func)
    return func


def handle_errors(func):
    """Turn zsaudit's own errors into a one-line message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ZsauditError as exc:
            click.echo(f"zsaudit: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="zsaudit")
def main():
    """Audit Airflow egress through Zscaler and build SOC 2 evidence.

    \b
    The nightly flow:
      zsaudit ingest zscaler /var/log/zscaler        # ZIA web/firewall/DNS, ZPA activity/status
      zsaudit ingest airflow $AIRFLOW_HOME/logs $AIRFLOW_HOME/airflow.db
      zsaudit analyze --identity-map identity.toml   # tie requests to task attempts, flag issues
      zsaudit findings                               # what needs a look
      zsaudit report --out pack/                     # HTML + PDF + evidence + manifest
    or all of it from a config file:  zsaudit run --config zsaudit.toml
    New here? `zsaudit demo` runs everything on synthetic data in under a minute.
    """


@main.group(short_help="Load Zscaler or Airflow logs into the store.")
def ingest():
    """Load logs into the store (each file once; bad lines kept in `rejects`)."""


# Commands are registered from their own modules below, so each stage owns its command.
from . import commands  # noqa: E402,F401  (registers the commands on `main` and `ingest`)
