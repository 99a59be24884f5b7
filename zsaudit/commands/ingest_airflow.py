"""`zsaudit ingest airflow PATH...`"""

from __future__ import annotations

from pathlib import Path

import click

from .base import db_option, handle_errors, ingest, period_options, quiet_option, workers_option


@ingest.command("airflow", short_help="Task logs, metadata DBs, REST and CSV exports, stdout.")
@click.argument("paths", nargs=-1, required=True)
@click.option("--template", default=None, metavar="JINJA",
              help="Your [logging] log_filename_template, exactly as in airflow.cfg.")
@click.option("--tz", default="UTC", show_default=True, metavar="ZONE",
              help="Zone of naive log times (Airflow < 2.3.4 wrote local time without a zone).")
@period_options
@click.option("--ca-bundle", default=None, metavar="PEM", type=click.Path(exists=True, dir_okay=False),
              help="CA certificates to verify an https:// Airflow API with (default: the system's; "
                   "env ZSAUDIT_AIRFLOW_CA_BUNDLE).")
@click.option("--secrets-file", default=None, metavar="TOML", type=click.Path(exists=True, dir_okay=False),
              help="Airflow API credentials: token = \"...\", or user and password (default: the env vars below).")
@click.option("--mirror", default=None, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Where documents fetched from an Airflow API are kept (default: <db>.airflow-api/).")
@click.option("--max-line-bytes", default=1 << 20, show_default=True, type=click.IntRange(min=1024),
              help="A longer task-log line is rejected (its first 4,096 characters, length and sha256 kept) "
                   "and the file goes on.")
@workers_option
@db_option
@quiet_option
@handle_errors
def ingest_airflow(paths, template, tz, since, until, ca_bundle, secrets_file, mirror, max_line_bytes: int,
                   workers, db: Path, quiet):
    """Ingest Airflow task logs, metadata DBs, REST exports and scheduler output.

    \b
    Each PATH is told apart by its content:
      a task-log tree ($AIRFLOW_HOME/logs)   Airflow 2.x text or 3.x JSON task logs
      airflow.db | postgresql://...          the metadata DB (task_instance + history)
      *.json                                 REST API v1/v2 task-instance export (incl. /tries)
      *.csv                                  a CSV dump of task_instance
      scheduler / api-server stdout          Workload finished / Task started lines
      https://airflow.example.com            a live Airflow's REST API (v2 on 3.x, v1 on 2.x):
                                             task instances, every try and every try's log
                                             for --since/--until (default: yesterday, UTC)
    Airflow 3 task logs carry no host, state or connection id: ingest the metadata too.

    \b
    Airflow API credentials, never on the command line:
      ZSAUDIT_AIRFLOW_TOKEN                  a bearer token (Airflow 3 JWT, or 2.x auth backend)
      ZSAUDIT_AIRFLOW_USER + _PASSWORD       Airflow 3: exchanged at /auth/token; 2.x: basic auth
      --secrets-file / ZSAUDIT_AIRFLOW_SECRETS_FILE   the same in a TOML file
    A re-run fetches only what changed: finished tries' logs stay in --mirror.
    """
    from .. import queries
    from ..ingest.airflow import ApiOptions, ingest_paths
    from ..progress import Progress
    from ..store import Store
    from ..periods import resolve_period

    progress = Progress(quiet=quiet)
    start, end = resolve_period(None, since, until)   # only used for API URLs
    api = ApiOptions(since=start, until=end, mirror=mirror, ca_bundle=ca_bundle, secrets_file=secrets_file)
    with Store(db) as store:
        results = ingest_paths(store, list(paths), template=template, tz=tz, progress=progress, api=api,
                               max_line_bytes=max_line_bytes, workers=workers)
        attempts = queries.scalar(store.con, "pipeline/attempt_count")
    loaded = sum(1 for r in results if not r.skipped and not r.warnings)
    skipped = sum(1 for r in results if r.skipped)
    problems = [w for r in results for w in r.warnings]
    for w in problems:
        click.echo(f"warning: {w}", err=True)
    if not quiet:
        click.echo(f"{loaded} loaded, {skipped} already ingested, {len(problems)} with problems; "
                   f"{attempts} task attempts in {db}")
