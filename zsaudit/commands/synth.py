"""`zsaudit synth`"""

from __future__ import annotations

import click

from ..cli import main


@main.command("synth")
def synth():
    """Write realistic synthetic logs with planted anomalies and a truth file."""
    raise click.ClickException("not implemented yet")
