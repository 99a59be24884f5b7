"""Errors a user can act on, and the exit code each one means.

The exit codes are a contract with schedulers (cron, the Airflow DAG, CI):

    0  ok
    1  FindingsAtOrAbove: open findings at or above --fail-on (or `verify`: the pack was tampered with)
    2  BadInput / BadUsage (and their subclasses): the user must change something before a
       re-run can succeed: a bad option, config key, identity map, input file or --out folder.
       Busy is a 2 that names a lock held by another zsaudit (store, pack folder): a later
       retry may succeed, so a scheduler may retry it (the shipped DAG does).
    3  anything else: an internal error (a bug, or the machine: disk full, out of memory).
       The CLI prints one line and writes the traceback to a log file (`--debug` prints it);
       a scheduler should retry it and report it if it persists.

`exit_code_for(exc)` is the one mapping; the CLI and the DAG both use it.
"""

from __future__ import annotations

INTERNAL_ERROR = 3


class ZsauditError(Exception):
    """Base class: the message is shown to the user as is (one line)."""

    exit_code = 2


class BadInput(ZsauditError):
    """Input that cannot be used: names the file, the line or key, and what was expected."""


class BadUsage(ZsauditError):
    """A command-line or configuration mistake, including an --out zsaudit cannot write to."""


class Busy(BadUsage):
    """Another process holds a lock zsaudit needs (the DuckDB store, a pack folder).
    Exit 2 like any usage error, but worth a retry once the other process is done."""

    retryable = True


class FindingsAtOrAbove(ZsauditError):
    """`--fail-on` threshold reached: not an error in the tool, a signal to the scheduler."""

    exit_code = 1


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of an exception that ended a command (see the module docstring)."""
    if isinstance(exc, ZsauditError):
        return exc.exit_code
    return INTERNAL_ERROR


def is_retryable(exc: BaseException) -> bool:
    """Would the same call succeed later without anyone changing anything? Internal errors
    (exit 3: out of memory, disk full, a transient failure) and Busy locks: yes."""
    return exit_code_for(exc) == INTERNAL_ERROR or getattr(exc, "retryable", False)
