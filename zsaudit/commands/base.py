"""What every command shares: the `zsaudit` and `zsaudit ingest` click groups, the shared options
(--db, --since/--until, --quiet) and the one place that turns an error into a message and an
exit code of zsaudit.errors: 0 ok, 1 findings at or above --fail-on, 2 bad usage or bad input,
3 internal error (traceback in a log file; `zsaudit --debug ...` prints it).

The command modules beside this one register themselves on these groups; zsaudit/cli.py is the
entry point that loads them all.
"""

from __future__ import annotations

import functools
import os
import select
import sys
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path

import click

from .. import DEFAULT_DB, __version__
from ..errors import INTERNAL_ERROR, ZsauditError
from ..ingest.workers import MAX_WORKERS

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def db_option(func):
    """--db PATH, shared by every command that touches the store."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="ZSAUDIT_DB",
        default=DEFAULT_DB,
        show_default=True,
        show_envvar=True,
        help="The zsaudit DuckDB file.",
    )(func)


def quiet_option(func):
    return click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")(func)


def workers_option(func):
    """--workers: files (Airflow: batches of task logs) ingested at once (ingest/workers.py)."""
    return click.option(
        "--workers", "workers", default=None, type=click.IntRange(1, MAX_WORKERS), metavar="N",
        help="Files (Airflow: batches of task logs) read and parsed at once (default: "
             "ZSAUDIT_INGEST_WORKERS, else `[ingest] workers` of zsaudit.toml for `run`, else one per "
             "core). Memory grows with it (docs/running.md).")(func)


def period_options(func):
    func = click.option("--until", "until", default=None, metavar="TIME",
                        help="End of the period, exclusive (ISO 8601 date or time, UTC unless it says).")(func)
    func = click.option("--since", "since", default=None, metavar="TIME",
                        help="Start of the period, inclusive (ISO 8601 date or time, UTC unless it says).")(func)
    return func


def crash_log_dir() -> Path:
    """Where internal errors leave their traceback: $ZSAUDIT_LOG_DIR, else $XDG_STATE_HOME/zsaudit
    (~/.local/state/zsaudit); the system temp folder when that cannot be written."""
    if os.environ.get("ZSAUDIT_LOG_DIR"):
        return Path(os.environ["ZSAUDIT_LOG_DIR"])
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "zsaudit"


def _write_crash_log(text: str) -> Path | None:
    name = f"crash-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{os.getpid()}.log"
    for folder in (crash_log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def _debug_requested() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and root.params.get("debug")) or os.environ.get("ZSAUDIT_DEBUG", "") not in ("", "0")


def exit_for(exc: BaseException):
    """End the command for an exception: one line on stderr and the documented exit code.
    zsaudit's own errors print their message; anything else is an internal error (exit 3)
    whose traceback goes to a log file (and to stderr under --debug)."""
    debug = _debug_requested()
    if isinstance(exc, ZsauditError):
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        click.echo(f"zsaudit: {exc}", err=True)
        sys.exit(exc.exit_code)
    trace = "".join(traceback.format_exception(exc))
    log = _write_crash_log(f"zsaudit {__version__}: {' '.join(sys.argv)}\n{trace}")
    if debug or log is None:
        click.echo(trace, err=True, nl=False)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    where = f"traceback in {log}" if log else "traceback above"
    click.echo(f"zsaudit: internal error: {type(exc).__name__}{': ' + first if first else ''} "
               f"({where}{'' if debug else '; --debug prints it'}; exit 3: a retry may help, "
               "report it if it persists)", err=True)
    sys.exit(INTERNAL_ERROR)


def _exit_if_stdout_closed() -> None:
    """`zsaudit findings | head`: the reader left; end quietly with the shell's SIGPIPE code."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        closed = any(ev & select.POLLERR for _, ev in poller.poll(0))  # a pipe with no reader left
    except (OSError, ValueError, AttributeError):
        return
    if closed:
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)  # no second error when Python flushes at exit
        sys.exit(141)


# Exceptions that already carry click's own exit handling (usage errors, --help, sys.exit).
_PASS_THROUGH = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit)


def handle_errors(func):
    """Turn every error of a command into a one-line message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except KeyboardInterrupt:
            click.echo("zsaudit: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError as exc:
            _exit_if_stdout_closed()
            exit_for(exc)
        except Exception as exc:  # noqa: BLE001  the one place that turns any error into an exit code
            exit_for(exc)

    return wrapper


class ZsauditGroup(click.Group):
    """The command group: what escapes a command (or a command without @handle_errors) still
    ends as one line and a documented exit code, and click's generic exit 1 becomes 2 (1 is
    reserved for findings)."""

    def invoke(self, ctx):
        try:
            return handle_errors(super().invoke)(ctx)
        except click.exceptions.ClickException as exc:
            if exc.exit_code == 1:
                exc.exit_code = 2
            raise


@click.group(cls=ZsauditGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="zsaudit")
@click.option("--debug", is_flag=True, envvar="ZSAUDIT_DEBUG",
              help="On an error, print the Python traceback too (internal errors always leave it in a log file).")
def main(debug: bool):
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

    \b
    Exit codes: 0 ok, 1 open findings at or above --fail-on (verify: a pack changed, a chain broken),
    2 bad usage or bad input (the message says what to fix; also a lock held by another zsaudit),
    3 internal error (traceback in ~/.local/state/zsaudit/, or with --debug; a retry may help).
    """


@main.group(cls=ZsauditGroup, short_help="Load Zscaler or Airflow logs into the store.")
def ingest():
    """Load logs into the store (each file once; bad lines kept in `rejects`)."""

