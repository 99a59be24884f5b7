"""`zsaudit report` and `zsaudit verify`"""

from __future__ import annotations

import click

from ..cli import main


@main.command("report")
def report():
    """Render the SOC 2 audit pack."""
    raise click.ClickException("not implemented yet")
