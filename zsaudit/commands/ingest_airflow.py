"""`zsaudit ingest airflow PATH...`"""

from __future__ import annotations

from pathlib import Path

import click

from ..cli import db_option, handle_errors, ingest, quiet_option


@ingest.command("airflow", short_help="Task logs, metadata DBs, REST and CSV exports, stdout.")
@click.argument("paths", nargs=-1, required=True)
@click.option("--template", default=None, metavar="JINJA",
              help="Your [logging] log_filename_template, exactly as in airflow.cfg.")
@click.option("--tz", default="UTC", show_default=True, metavar="ZONE",
              help="Zone of naive log times (Airflow < 2.3.4 wrote local time without a zone).")
@db_option
@quiet_option
@handle_errors
def ingest_airflow(paths, template, tz, db: Path, quiet):
    """Ingest Airflow task logs, metadata DBs, REST exports and scheduler output.

    \b
    Each PATH is told apart by its content:
      a task-log tree ($AIRFLOW_HOME/logs)   Airflow 2.x text or 3.x JSON task logs
      airflow.db | postgresql://...          the metadata DB (task_instance + history)
      *.json                                 REST API v1/v2 task-instance export (incl. /tries)
      *.csv                                  a CSV dump of task_instance
      scheduler / api-server stdout          Workload finished / Task started lines
    Airflow 3 task logs carry no host, state or connection id: ingest the metadata too.
    """
    from ..ingest.airflow import ingest_paths
    from ..progress import Progress
    from ..store import Store

    progress = Progress(quiet=quiet)
    with Store(db) as store:
        results = ingest_paths(store, list(paths), template=template, tz=tz, progress=progress)
        attempts = store.con.execute("SELECT count(*) FROM task_attempts").fetchall()[0][0]
    loaded = sum(1 for r in results if not r.skipped and not r.warnings)
    skipped = sum(1 for r in results if r.skipped)
    problems = [w for r in results for w in r.warnings]
    for w in problems:
        click.echo(f"warning: {w}", err=True)
    if not quiet:
        click.echo(f"{loaded} loaded, {skipped} already ingested, {len(problems)} with problems; "
                   f"{attempts} task attempts in {db}")
