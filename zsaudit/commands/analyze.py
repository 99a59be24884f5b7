"""`zsaudit analyze` and `zsaudit findings`"""

from __future__ import annotations

import click

from ..cli import main


@main.command("analyze")
def analyze():
    """Correlate requests with task attempts and compute findings."""
    raise click.ClickException("not implemented yet")
