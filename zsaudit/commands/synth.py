"""`zsaudit synth`"""

from __future__ import annotations

from pathlib import Path

import click

from .base import handle_errors, main, quiet_option


@main.command("synth", short_help="Write synthetic logs with planted anomalies.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write zscaler/, airflow/, identity.toml and truth.json into.")
@click.option("--requests", "requests", default=2000, show_default=True, type=click.IntRange(min=100),
              help="About how many Zscaler requests to generate.")
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same output.")
@click.option("--zia-format", "zia_format", default="json", show_default=True,
              type=click.Choice(["json", "csv", "tsv", "kv", "leef", "cef"]), help="NSS feed format of the ZIA web log.")
@click.option("--nights", "nights", default=None, type=click.IntRange(min=1, max=3660),
              help="Write this many nights (a period for `report --period`) with findings that appear, persist "
                   "and get resolved, an exception that expires and a two-night Zscaler outage; --requests is "
                   "then per night.")
@click.option("--start", "start", default="2026-07-01", show_default=True, metavar="DATE",
              help="First night of --nights (UTC date).")
@quiet_option
@handle_errors
def synth(out: Path, requests: int, seed: int, zia_format: str, nights, start, quiet: bool):
    """Write realistic synthetic logs with planted anomalies and a truth file.

    \b
    Then:  zsaudit ingest zscaler OUT/zscaler
           zsaudit ingest airflow OUT/airflow
           zsaudit analyze --identity-map OUT/identity.toml --since 2026-11-24 --until 2026-11-25
    With --nights N: OUT/zscaler/<night>/, OUT/airflow/<night>/; ingest both, analyze each night
    (--since <night> --until <next night>), then `zsaudit report --period ... --out PACK`.
    """
    from ..output import ensure_dir
    from ..synth import synthesize, synthesize_nights
    from ..timeutil import parse_time

    ensure_dir(out, "--out")
    if nights is not None:
        first = parse_time(start, what="--start").date()
        res = synthesize_nights(out, nights=nights, start=first, requests=requests, seed=seed, zia_format=zia_format)
        if not quiet:
            click.echo(f"wrote {res.nights} nights ({res.since} .. {res.until}, {res.requests} Zscaler requests; "
                       f"Zscaler outage on {', '.join(map(str, res.outage)) or 'no night'}) to {res.out_dir}")
            click.echo(f"identity map {res.identity_path}; truth in {res.truth_path}")
        return
    result = synthesize(out, requests=requests, seed=seed, zia_format=zia_format)
    if not quiet:
        click.echo(f"wrote {result.requests} requests, {result.attempts} task attempts and "
                   f"{result.planted} planted findings to {result.out_dir}")
        click.echo(f"period {result.since.date()} .. {result.until.date()}; truth in {result.truth_path}")
