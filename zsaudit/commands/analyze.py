"""`zsaudit analyze` and `zsaudit findings`"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..cli import db_option, handle_errors, main, period_options, quiet_option
from ..identity_map import KINDS
from ..progress import Progress

SEVERITY_CHOICE = click.Choice(["low", "medium", "high", "critical"])


@main.command("analyze", short_help="Tie requests to task attempts and compute findings.")
@click.option("--identity-map", "identity_map", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The identity map TOML (docs/identity-map.md).")
@period_options
@click.option("--fail-on", "fail_on", type=SEVERITY_CHOICE, default=None,
              help="Exit 1 when open findings at or above this severity exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@db_option
@quiet_option
@handle_errors
def analyze(identity_map: Path, since, until, fail_on, as_json, db: Path, quiet):
    """Correlate requests with task attempts and compute findings for a period.

    Analysing the same period again replaces its previous results.
    """
    from ..findings import analyze as run_analysis, check_fail_on
    from ..store import Store

    progress = Progress(quiet=quiet)
    with Store(db) as store:
        summary = run_analysis(store, identity_map, since=since, until=until, progress=progress)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    elif not quiet:
        for line in summary.lines():
            click.echo(line)
    check_fail_on(summary, fail_on)


@main.command("findings", short_help="List findings, most severe first (table, JSON, CSV).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only findings of this kind.")
@click.option("--status", type=click.Choice(["open", "accepted"]), default=None, help="Only open or accepted findings.")
@db_option
@handle_errors
def findings(fmt, kind, status, db: Path):
    """List findings, most severe first (CSV cells that could run as formulas are neutralized)."""
    from ..findings import list_findings, to_csv, to_json, to_table
    from ..store import Store

    with Store(db, read_only=True) as store:
        rows = list_findings(store, kind=kind, status=status)
    click.echo({"table": to_table, "json": to_json, "csv": to_csv}[fmt](rows), nl=False)
