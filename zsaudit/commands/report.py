"""`zsaudit report` and `zsaudit verify`"""

from __future__ import annotations

from pathlib import Path

import click

from .base import db_option, handle_errors, main, period_options, quiet_option
from ..progress import Progress


@main.command("report", short_help="Render the SOC 2 audit pack (HTML, PDF, evidence).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the pack: new, empty or an earlier pack, which is replaced whole once the new one "
                   "is complete (its parent folder must exist).")
@period_options
@click.option("--pdf/--no-pdf", "pdf", default=True, show_default=True, help="Also write audit-pack.pdf.")
@click.option("--generated-at", "generated_at", default=None, metavar="TIME",
              help="Generation time to print and record (default now); fix it to re-render a pack byte for byte.")
@click.option("--identity-map", "identity_map", default=None,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Identity map to show and hash (default: the one the analysis recorded).")
@click.option("--sample-seed", "sample_seed", default=None, type=click.IntRange(min=0),
              help="Seed of the per-criterion evidence samples (default: derived from the period).")
@click.option("--top", "top_n", default=25, show_default=True, type=click.IntRange(min=1, max=1000),
              help="Rows in each top-N list of the HTML and PDF (full lists are in evidence/).")
@click.option("--sample-size", "sample_size", default=10, show_default=True, type=click.IntRange(min=1, max=200),
              help="Rows in each criterion's evidence sample.")
@click.option("--config", "config_path", default=None, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="zsaudit.toml whose [controls] name each criterion's owner and reviewer (printed in the pack).")
@click.option("--lock-wait", "lock_wait", default=60.0, show_default=True, metavar="SECONDS",
              type=click.FloatRange(min=0, max=86400),
              help="If another zsaudit is writing the same --out folder, wait this long for it to finish, then "
                   "exit 2 naming the lock (0: do not wait).")
@db_option
@quiet_option
@handle_errors
def report(out, since, until, pdf, generated_at, identity_map, sample_seed, top_n, sample_size, config_path,
           lock_wait, db, quiet):
    """Render the SOC 2 audit pack: index.html, audit-pack.pdf, evidence/, findings.ocsf.json, manifest.json.

    The period defaults to the latest analysis. Prints the manifest's sha256: keep it where the
    pack's holder cannot change it, and check the pack later with `zsaudit verify DIR --manifest-sha256`.
    """
    from ..report import render
    from ..store import Store

    controls = {}
    if config_path is not None:
        from ..config import load_config

        controls = load_config(config_path).controls
    progress = Progress(quiet=quiet)
    with Store(db, read_only=True) as store:
        result = render(store, out, since=since, until=until, pdf=pdf, generated_at=generated_at,
                        identity_map_path=identity_map, progress=progress, sample_seed=sample_seed,
                        top_n=top_n, sample_size=sample_size, controls=controls, lock_wait=lock_wait)
    if not quiet:
        click.echo(result.summary())


@main.command("verify", short_help="Check an audit pack against its manifest of hashes.")
@click.argument("pack_dir", type=click.Path(path_type=Path))
@click.option("--manifest-sha256", default=None, metavar="HEX",
              help="The manifest's sha256 as printed by `zsaudit report`: also proves the manifest unchanged.")
@quiet_option
@handle_errors
def verify(pack_dir, manifest_sha256, quiet):
    """Check an audit pack against its manifest: names each file changed, missing or added.

    \b
    Exit 0: intact. Exit 1: tampered (each problem printed: changed, missing, added, forged).
    Exit 2: not a pack (no or unreadable manifest), or --manifest-sha256 is not a sha256.
    Without --manifest-sha256 (kept where the pack's holder cannot change it) a holder who
    rewrites files and manifest together goes unnoticed.
    """
    from ..report import verify as verify_pack
    from ..report.manifest import PackTampered

    problems = verify_pack(pack_dir, manifest_sha256=manifest_sha256)
    if problems:
        for line in problems:
            click.echo(f"{pack_dir}: {line}", err=True)
        raise PackTampered(f"{pack_dir}: {len(problems)} problem(s); the pack does not match its manifest")
    if not quiet:
        click.echo(f"{pack_dir}: intact ({pack_dir / 'manifest.json'} matches every file)")
