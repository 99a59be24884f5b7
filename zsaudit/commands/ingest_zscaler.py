"""`zsaudit ingest zscaler PATH...`"""

from __future__ import annotations

from pathlib import Path

import click

from .base import db_option, handle_errors, ingest, quiet_option, workers_option
from ..progress import Progress


@ingest.command("zscaler", short_help="ZIA web/firewall/DNS, ZPA activity/status, any NSS format.")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "json", "csv", "tsv", "kv", "leef", "cef"]),
              help="Feed output type; auto tells it apart per file.")
@click.option("--fields", default=None, metavar="FORMAT_STRING",
              help="The NSS feed output format string of a headerless CSV/TSV feed, "
                   "e.g. '\"%s{time}\",\"%s{login}\",...' as configured in the ZIA admin portal.")
@click.option("--tz", default="UTC", show_default=True,
              help="Time zone of times that carry none (the feed's configured time zone).")
@click.option("--max-line-bytes", default=1 << 20, show_default=True, type=click.IntRange(min=1024),
              help="A longer line is rejected (its first 4,096 characters, length and sha256 kept) "
                   "and the file goes on.")
@click.option("--max-reject-rate", "max_reject_rate", default="1%", show_default=True, metavar="RATE",
              help="Exit 2 when a file rejects more than this share of its lines (e.g. 1% or 0.01); "
                   "its good rows still load and every rejected line is kept.")
@workers_option
@db_option
@quiet_option
@handle_errors
def ingest_zscaler(paths, fmt, fields, tz, max_line_bytes: int, max_reject_rate, workers, db: Path, quiet):
    """Ingest Zscaler ZIA (web, firewall, DNS) and ZPA (user activity, user status) logs.

    PATH is a file, a directory (read recursively), a .gz file, or - for standard input.
    Each file loads in one transaction; a file already ingested (same sha256) is skipped.
    A record already loaded (same ZIA recordid and time, or for feeds without one the same
    content and time), e.g. resent by NSS after an outage, is counted as a duplicate, not
    loaded again. Lines that cannot be used go to the `rejects` table with their reason; no
    line stops a file, and a file that cannot be read does not stop the others.

    \b
    Exit 2 (after loading every other file) when a file cannot be read as a Zscaler log at all
    (it is recorded in the ledger as refused) or rejects more than --max-reject-rate of its lines.
    """
    from ..config import parse_reject_rate
    from ..errors import BadInput
    from ..ingest import ledger, zscaler
    from ..store import Store

    rate = parse_reject_rate(max_reject_rate)
    progress = Progress(quiet=quiet)
    with Store(db) as store:
        try:
            results = zscaler.ingest_paths(store, paths, fmt=fmt, fields=fields, tz=tz, progress=progress,
                                           max_line_bytes=max_line_bytes,
                                           workers=workers)
        except zscaler.IngestErrors as exc:
            _print(exc.results, quiet)
            over = ledger.over_reject_rate(exc.results, rate)
            if over and not isinstance(exc, zscaler.IngestInternalError):   # keep exit 3
                raise BadInput("\n".join([str(exc), *over])) from None
            raise
    _print(results, quiet)
    over = ledger.over_reject_rate(results, rate)
    if over:
        raise BadInput("\n".join(over))


def _print(results, quiet: bool) -> None:
    if quiet:
        return
    for r in results:
        click.echo(r.summary())
    loaded = sum(r.rows_loaded for r in results)
    rejected = sum(r.rows_rejected for r in results)
    duplicates = sum(r.rows_duplicate for r in results)
    if len(results) > 1:
        click.echo(f"{len(results)} files: {loaded} rows loaded, {rejected} rejected"
                   + (f", {duplicates} duplicates" if duplicates else ""))
    if rejected:
        click.echo("rejected lines and their reasons: SELECT * FROM rejects")
