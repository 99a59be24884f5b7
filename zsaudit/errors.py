"""Errors a user can act on. The CLI turns each into a plain message and an exit code."""


class ZsauditError(Exception):
    """Base class: the message is shown to the user as is."""

    exit_code = 2


class BadInput(ZsauditError):
    """Input that cannot be used: names the file, the line or key, and what was expected."""


class BadUsage(ZsauditError):
    """A command-line or configuration mistake."""


class FindingsAtOrAbove(ZsauditError):
    """`--fail-on` threshold reached: not an error in the tool, a signal to the scheduler."""

    exit_code = 1
