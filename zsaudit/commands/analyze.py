"""`zsaudit analyze` and `zsaudit findings`"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .base import db_option, handle_errors, main, period_options, quiet_option
from ..analyze.rules import KINDS, SEVERITIES
from ..progress import Progress

SEVERITY_CHOICE = click.Choice(SEVERITIES)


@main.command("analyze", short_help="Tie requests to task attempts and compute findings.")
@click.option("--identity-map", "identity_map", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The identity map TOML (docs/identity-map.md).")
@period_options
@click.option("--fail-on", "fail_on", type=SEVERITY_CHOICE, default=None,
              help="Exit 1 when open findings at or above this severity exist.")
@click.option("--gap-threshold", "gap_threshold", default="1h", show_default=True, metavar="DURATION",
              help="A source silent this long while the others deliver is a coverage_gap finding "
                   "(and the checks that need it are not evaluable for that stretch).")
@click.option("--max-reject-rate", "max_reject_rate", default=0.01, show_default=True, type=float, metavar="SHARE",
              help="An input file of the period with a larger share of rejected lines is a coverage_gap "
                   "finding (subtype rejects); 0.01 = 1%.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@db_option
@quiet_option
@handle_errors
def analyze(identity_map: Path, since, until, fail_on, gap_threshold, max_reject_rate, as_json, db: Path, quiet):
    """Correlate requests with task attempts and compute findings for a period.

    Analysing the same period again replaces its previous results.
    """
    from ..config import parse_gap_threshold, parse_reject_rate
    from ..analyze.analysis import analyze as run_analysis, check_fail_on
    from ..store import Store

    progress = Progress(quiet=quiet)
    threshold = parse_gap_threshold(gap_threshold)
    rate = parse_reject_rate(max_reject_rate)
    with Store(db) as store:
        summary = run_analysis(store, identity_map, since=since, until=until, progress=progress,
                               gap_threshold=threshold, max_reject_rate=rate)
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    elif not quiet:
        for line in summary.lines():
            click.echo(line)
    check_fail_on(summary, fail_on)


@main.command("findings", short_help="List findings, or their lifecycle across nights.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only findings of this kind.")
@click.option("--status", type=click.Choice(["open", "accepted"]), default=None, help="Only open or accepted findings.")
@click.option("--history", "history", is_flag=True,
              help="Each finding's lifecycle across the nightly analyses instead: first and last night seen, "
                   "status history (open, accepted, resolved), resolved on, days to resolve.")
@click.option("--period", "period", default=None, metavar="PERIOD",
              help="With --history: only the nights of 2026-Q3, 2026-09 or 2026 (else --since/--until, else all).")
@period_options
@db_option
@handle_errors
def findings(fmt, kind, status, history, period, since, until, db: Path):
    """List findings, most severe first.

    CSV and JSON have the columns and formats of the pack's evidence/findings.csv (times ISO 8601
    UTC, controls and evidence ids separated by a space; JSON gives those as lists). CSV text cells
    that a spreadsheet would run as a formula get a leading apostrophe; numbers are left alone.

    \b
    --history: one row per finding subject (same kind and subject: DAG task, login, host,
    connection, worker or source) over the nightly analyses (one UTC day each). A subject is
    resolved on the first night it is no longer raised while the evidence was complete: a night
    with no analysis, or with a coverage gap of a source, resolves nothing (docs/findings.md).
    """
    from ..analyze.listing import csv_cell, export_findings, list_findings, to_csv, to_json, to_table
    from ..store import Store

    if history:
        _history(fmt, kind, status, period, since, until, db, csv_cell)
        return
    if period or since or until:
        raise click.UsageError("--period, --since and --until go with --history")
    with Store(db, read_only=True) as store:
        if fmt == "table":
            text = to_table(list_findings(store, kind=kind, status=status))
        else:
            text = {"json": to_json, "csv": to_csv}[fmt](export_findings(store, kind=kind, status=status))
    click.echo(text, nl=False)


def _history(fmt, kind, status, period, since, until, db, csv_cell):
    import csv
    import io

    from ..analyze import lifecycle
    from ..store import Store
    from ..timeutil import parse_named_period, resolve_period, whole_days

    if status:
        raise click.UsageError("--status goes without --history (the lifecycle has its own status column)")
    if period and (since or until):
        raise click.UsageError("--period or --since/--until, not both")
    start, end = parse_named_period(period) if period else resolve_period(since, until)
    d_since = whole_days(start, start, what="--history")[0] if start else None
    d_until = whole_days(end, end, what="--history")[0] if end else None
    with Store(db, read_only=True) as store:
        store.require(5, "finding lifecycle")
        rows = lifecycle.lifecycle(store.con, d_since, d_until, kind=kind)
    if fmt == "table":
        text = lifecycle.to_table(rows)
    elif fmt == "json":
        text = lifecycle.to_json(rows)
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(lifecycle.CSV_COLUMNS)
        w.writerows([[csv_cell(v) for v in row] for row in lifecycle.csv_rows(rows)])
        text = buf.getvalue()
    click.echo(text, nl=False)
