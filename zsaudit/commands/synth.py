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
@quiet_option
@handle_errors
def synth(out: Path, requests: int, seed: int, zia_format: str, quiet: bool):
    """Write realistic synthetic logs with planted anomalies and a truth file.

    \b
    Then:  zsaudit ingest zscaler OUT/zscaler
           zsaudit ingest airflow OUT/airflow
           zsaudit analyze --identity-map OUT/identity.toml --since 2026-11-24 --until 2026-11-25
    """
    from ..output import ensure_dir
    from ..synth import synthesize

    ensure_dir(out, "--out")
    result = synthesize(out, requests=requests, seed=seed, zia_format=zia_format)
    if not quiet:
        click.echo(f"wrote {result.requests} requests, {result.attempts} task attempts and "
                   f"{result.planted} planted findings to {result.out_dir}")
        click.echo(f"period {result.since.date()} .. {result.until.date()}; truth in {result.truth_path}")
