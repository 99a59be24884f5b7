"""`zsaudit run`, `zsaudit init`, `zsaudit demo`, `zsaudit airflow-dag`"""

from __future__ import annotations

import click

from ..cli import main


@main.command("demo")
def demo():
    """Synthesize a night of logs and run the whole pipeline on it."""
    raise click.ClickException("not implemented yet")
