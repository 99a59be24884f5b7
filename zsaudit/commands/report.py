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
@click.option("--signing-key", "signing_key", default=None, type=click.Path(dir_okay=False, path_type=Path),
              metavar="PEM", help="Ed25519 private key file that signs manifest.json (default: pack.signing_key of "
                                  "--config, else the file $ZSAUDIT_SIGNING_KEY names). A path: never the key itself.")
@click.option("--period", "period", default=None, metavar="PERIOD",
              help="Render the SOC 2 Type II period pack of 2026-Q3, 2026-09, 2026 or 2026-07-15..2026-10-15 "
                   "(whole UTC nights) from the nightly analyses in the store, instead of one analysed period.")
@click.option("--packs", "packs_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="With --period: the packs folder of `zsaudit run` (pack.out_dir); the pack lists the "
                   "manifest sha256 of every nightly pack of the period found there.")
@db_option
@quiet_option
@handle_errors
def report(out, since, until, pdf, generated_at, identity_map, sample_seed, top_n, sample_size, config_path,
           lock_wait, signing_key, period, packs_dir, db, quiet):
    """Render the SOC 2 audit pack: index.html, audit-pack.pdf, evidence/, findings.ocsf.json, manifest.json.

    The period defaults to the latest analysis. Prints the manifest's sha256: keep it where the
    pack's holder cannot change it, and check the pack later with `zsaudit verify DIR --manifest-sha256`.

    \b
    --period 2026-Q3 (or 2026-09, 2026, 2026-07-15..2026-10-15): the Type II pack of a period,
    built from the nightly analyses (one per UTC day, as `zsaudit run` makes them): per criterion
    the nights it operated and could not be evaluated and why, deviations per week, every
    finding's lifecycle, accepted risks, coverage gaps, and a sample of nights across the period
    sized by control frequency (AU-C 530: a daily control 25-40 nights), drawn from --sample-seed.
    """
    from ..report import render
    from ..store import Store

    if period is not None:
        if since or until or identity_map or config_path or signing_key:
            raise click.UsageError("--period goes without --since/--until, --identity-map, --config and "
                                   "--signing-key (write the period as 2026-07-15..2026-10-15)")
        _period_pack(out, period, packs_dir, pdf, generated_at, sample_seed, top_n, lock_wait, db, quiet)
        return
    if packs_dir is not None:
        raise click.UsageError("--packs goes with --period")

    from ..report.signing import key_from

    config = None
    if config_path is not None:
        from ..config import load_config

        config = load_config(config_path)
    controls = config.controls if config else {}
    key = key_from(signing_key, config)
    progress = Progress(quiet=quiet)
    with Store(db, read_only=True) as store:
        result = render(store, out, since=since, until=until, pdf=pdf, generated_at=generated_at,
                        identity_map_path=identity_map, progress=progress, sample_seed=sample_seed,
                        top_n=top_n, sample_size=sample_size, controls=controls, lock_wait=lock_wait,
                        signing_key=key)
    if not quiet:
        click.echo(result.summary())


def _period_pack(out, period, packs_dir, pdf, generated_at, sample_seed, top_n, lock_wait, db, quiet):
    from ..report.period import render_period
    from ..store import Store
    from ..timeutil import parse_named_period

    since, until = parse_named_period(period)
    with Store(db, read_only=True) as store:
        result = render_period(store, out, since=since, until=until, name=period, packs_dir=packs_dir, pdf=pdf,
                               generated_at=generated_at, sample_seed=sample_seed, top_n=top_n,
                               progress=Progress(quiet=quiet), lock_wait=lock_wait)
    if not quiet:
        click.echo(result.summary())


@main.command("verify", short_help="Check a pack, or the chain of nightly packs, for changes.")
@click.argument("pack_dir", required=False, type=click.Path(path_type=Path))
@click.option("--chain", "chain_dir", default=None, type=click.Path(path_type=Path), metavar="PACKS",
              help="Check every night pack of this folder (pack.out_dir of `zsaudit run`) in order, and the "
                   "chain of manifests linking them; names the first night that breaks it.")
@click.option("--manifest-sha256", default=None, metavar="HEX",
              help="The manifest's sha256 as printed by `zsaudit report`/`run`: also proves the manifest unchanged "
                   "(with --chain: the newest night's).")
@click.option("--public-key", "public_keys", multiple=True, metavar="PEM",
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Ed25519 public key (PEM) you trust: each manifest must be signed by it. Repeat it for the "
                   "keys of earlier rotations.")
@quiet_option
@handle_errors
def verify(pack_dir, chain_dir, manifest_sha256, public_keys, quiet):
    """Check an audit pack against its manifest: names each file changed, missing or added.

    \b
    zsaudit verify PACK                 one pack
    zsaudit verify --chain PACKS        every night of a packs folder, and the chain between them:
                                        a night deleted, rewritten or re-rendered, or a file edited,
                                        is named (the first break last, on its own line)
    \b
    Exit 0: intact. Exit 1: tampered or the chain broken (each problem printed, with its night).
    Exit 2: not a pack or packs folder (no or unreadable manifest), a bad --manifest-sha256 or key.
    Without --manifest-sha256 (kept where the pack's holder cannot change it) or --public-key, a
    holder who rewrites files and manifest together (or the newest night) goes unnoticed.
    """
    from ..errors import BadUsage
    from ..report import verify as verify_pack
    from ..report.manifest import PackTampered

    if (pack_dir is None) == (chain_dir is None):
        raise BadUsage("verify: give a PACK folder, or --chain PACKS for a folder of nightly packs (not both)")
    keys = None
    if public_keys:
        from ..report.signing import load_public_key

        keys = [load_public_key(p) for p in public_keys]
    if chain_dir is not None:
        _verify_chain(chain_dir, keys, manifest_sha256, quiet)
        return
    problems = verify_pack(pack_dir, manifest_sha256=manifest_sha256, public_keys=keys)
    if problems:
        for line in problems:
            click.echo(f"{pack_dir}: {line}", err=True)
        raise PackTampered(f"{pack_dir}: {len(problems)} problem(s); the pack does not match its manifest")
    if not quiet:
        signed = " and is signed by a trusted key" if keys else ""
        click.echo(f"{pack_dir}: intact ({pack_dir / 'manifest.json'} matches every file{signed})")


def _verify_chain(root: Path, keys, head_sha256, quiet: bool) -> None:
    from ..report.chain import verify_chain
    from ..report.manifest import PackTampered

    result = verify_chain(root, public_keys=keys, head_sha256=head_sha256)
    if not quiet:
        for note in result.notes:
            click.echo(f"{root}: note: {note}", err=True)
    if result.breaks:
        for line in result.lines():
            click.echo(f"{root}: {line}", err=True)
        night, text = result.first_break
        raise PackTampered(f"{root}: chain broken at night {night.isoformat()}: {text}")
    if not quiet:
        first, last = result.nights[0].isoformat(), result.nights[-1].isoformat()
        signed = ", each signed by a trusted key" if keys else ""
        click.echo(f"{root}: chain intact: {len(result.nights)} nights {first} .. {last}, every pack matches its "
                   f"manifest and every manifest the one before it{signed}")
