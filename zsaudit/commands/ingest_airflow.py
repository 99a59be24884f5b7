"""`zsaudit ingest airflow PATH...`"""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import db_option, handle_errors, ingest, quiet_option


@ingest.command("airflow")
@click.argument("paths", nargs=-1, required=True)
@click.option("--template", default=None, metavar="JINJA",
              help="Your [logging] log_filename_template, exactly as in airflow.cfg.")
@db_option
@quiet_option
@handle_errors
def ingest_airflow(paths, template, db: Path, quiet):
    """Ingest Airflow task logs, metadata DBs, REST exports and scheduler output."""
    raise click.ClickException("not implemented yet")
