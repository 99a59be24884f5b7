"""`zsaudit run`, `zsaudit init`, `zsaudit demo`, `zsaudit airflow-dag`: thin shells over
zsaudit.pipeline (the same calls the Airflow DAG makes)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import click

from .base import handle_errors, main, period_options, quiet_option, workers_option
from ..analyze.rules import SEVERITIES
from ..config import (ENGINES, EXAMPLE, EXAMPLE_IDENTITY_MAP, check_engine, lake_location, load_config,
                      parse_fail_on, parse_gap_threshold)
from ..errors import BadInput, BadUsage, FindingsAtOrAbove
from ..output import ensure_dir
from ..progress import Progress

DAG_FILE = Path(__file__).resolve().parent.parent / "airflow" / "dags" / "zsaudit_nightly.py"


def _emit(summary, *, as_json: bool, quiet: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2, sort_keys=True))
    elif not quiet:
        for line in summary.lines():
            click.echo(line)


@main.command("run", short_help="The nightly job: ingest, analyze, report, in one go.")
@click.option("--config", "config_path", required=True, envvar="ZSAUDIT_CONFIG", show_envvar=True,
              type=click.Path(dir_okay=False, path_type=Path), help="The zsaudit.toml (`zsaudit init` writes one).")
@period_options
@click.option("--fail-on", "fail_on", default=None, metavar="SEVERITY",
              help=f"Exit 1 when open findings reach this severity ({', '.join(SEVERITIES)}, or none); "
                   "overrides run.fail_on of the config.")
@click.option("--gap-threshold", "gap_threshold", default=None, metavar="DURATION",
              help="A source silent this long while the others deliver is a coverage_gap finding; "
                   "overrides analyze.gap_threshold of the config (default 1h).")
@click.option("--reanalyze", is_flag=True,
              help="Analyze even if the period's analysis is current (e.g. after upgrading zsaudit).")
@click.option("--engine", type=click.Choice(ENGINES), default=None,
              help="duckdb: ingest and analyze on this machine; spark: as Spark jobs on a cluster over a "
                   "Parquet lake (docs/scale.md). Overrides engine.name of the config.")
@click.option("--spark-master", "spark_master", default=None, metavar="URL",
              help="The Spark master, e.g. spark://spark-master:7077 (engine spark); overrides engine.spark_master.")
@click.option("--lake", "lake", default=None, metavar="PATH|URL",
              help="The Parquet lake the Spark engine writes, a folder or an object-store prefix "
                   "(s3://bucket/prefix, gs://, az://) every executor reaches (default: engine.lake, else <db>.lake).")
@workers_option
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
@quiet_option
@handle_errors
def run(config_path: Path, since, until, fail_on, gap_threshold, reanalyze, engine, spark_master, lake,
        workers, as_json, quiet):
    """The nightly job: ingest new files, analyze the period, render the pack.

    \b
    The period is yesterday (UTC) unless the config or --since/--until say otherwise.
    Files already in the ledger are skipped, so re-running (after a crash, or twice) is safe.
    The pack goes to <pack.out_dir>/<YYYY-MM-DD>/, its manifest chained to the previous
    night's (check them with `zsaudit verify --chain <pack.out_dir>`).

    \b
    Backfill: --since/--until over several whole days (e.g. --since 2026-07-01 --until
    2026-10-01) renders each night's pack in order, skipping nights whose pack is intact; a
    night that cannot be built says why and the others go on.

    \b
    Exit codes: 0 ok, 1 open findings at or above --fail-on, 2 bad usage or bad input
    (or a night of a backfill not built).
    """
    from .. import pipeline

    config = load_config(config_path)
    if engine or spark_master or lake:
        config = dataclasses.replace(config, engine=engine or ("spark" if spark_master else config.engine),
                                     spark_master=spark_master or config.spark_master,
                                     lake=lake_location(lake) if lake else config.lake)
        check_engine(config)
    if gap_threshold is not None:   # a different threshold: the period's analysis is not current
        config = dataclasses.replace(config, gap_threshold=parse_gap_threshold(gap_threshold))
        reanalyze = True
    override = parse_fail_on(fail_on) if fail_on is not None else None
    summary = pipeline.run(config, since=since, until=until, fail_on=override,
                           use_config_fail_on=fail_on is None, reanalyze=reanalyze, workers=workers,
                           progress=Progress(quiet=quiet or as_json))
    _emit(summary, as_json=as_json, quiet=quiet)
    if summary.nights_failed:
        failed = summary.nights_failed
        raise BadInput(f"{len(failed)} of {len(summary.nights)} nights not built ("
                       + ", ".join(n.night for n in failed) + "); each night above says why")
    if summary.exit_code:
        raise FindingsAtOrAbove(f"{summary.failing} open findings at or above {summary.fail_on} "
                                f"(pack: {summary.pack.index_html if summary.pack else 'not written'})")


@main.command("init", short_help="Write example zsaudit.toml and identity.toml files.")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite existing zsaudit.toml / identity.toml.")
@handle_errors
def init(directory: Path, force: bool):
    """Write a commented example zsaudit.toml and identity.toml into DIRECTORY (default: here)."""
    ensure_dir(directory, "init")
    targets = {directory / "zsaudit.toml": EXAMPLE, directory / "identity.toml": EXAMPLE_IDENTITY_MAP}
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise BadUsage(f"{', '.join(existing)} already exist; use --force to overwrite")
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")
    click.echo(f"next: edit the paths in {directory / 'zsaudit.toml'} and the accounts in "
               f"{directory / 'identity.toml'}, then run\n  zsaudit run --config {directory / 'zsaudit.toml'}")


@main.command("demo", short_help="Run everything on synthetic data, no set-up needed.")
@click.option("--out", "out_dir", default="zsaudit-demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where the demo writes everything.")
@click.option("--requests", "requests", default=2000, show_default=True, type=click.IntRange(50),
              help="Synthetic Zscaler requests in the night.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the synthetic night.")
@click.option("--pdf/--no-pdf", default=True, show_default=True, help="Render audit-pack.pdf too.")
@quiet_option
@handle_errors
def demo(out_dir: Path, requests: int, seed: int, pdf: bool, quiet: bool):
    """Synthesize a night of logs and run the whole pipeline on it (no set-up needed)."""
    from ..demo import demo as run_demo

    result = run_demo(out_dir, requests=requests, seed=seed, pdf=pdf, progress=Progress(quiet=quiet))
    if not quiet:
        for line in result.lines():
            click.echo(line)


@main.command("airflow-dag", short_help="Print or install the zsaudit_nightly Airflow DAG.")
@click.option("--print", "do_print", is_flag=True, help="Print the DAG file (save it in your dags folder).")
@click.option("--install", "install_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              metavar="DAGS_FOLDER", help="Copy the DAG file into DAGS_FOLDER as zsaudit_nightly.py.")
@click.option("--force", is_flag=True, help="Overwrite a different zsaudit_nightly.py in DAGS_FOLDER.")
@handle_errors
def airflow_dag(do_print: bool, install_dir: Path | None, force: bool):
    """The Airflow DAG `zsaudit_nightly` that runs the nightly job (@daily).

    \b
    Install it into the dags folder of your Airflow, make zsaudit importable by the workers, and
    point the Airflow Variable `zsaudit_config` (or the workers' ZSAUDIT_CONFIG) at a zsaudit.toml:
      zsaudit airflow-dag --install $AIRFLOW_HOME/dags
      airflow variables set zsaudit_config /etc/zsaudit/zsaudit.toml
    """
    text = DAG_FILE.read_text(encoding="utf-8")
    if not do_print and install_dir is None:
        raise BadUsage("airflow-dag: give --print or --install DAGS_FOLDER")
    if do_print:
        sys.stdout.write(text)
    if install_dir is not None:
        if not install_dir.is_dir():
            raise BadUsage(f"--install {install_dir}: no such directory (your Airflow dags folder)")
        ensure_dir(install_dir, "--install")
        target = install_dir / DAG_FILE.name
        if target.exists() and target.read_text(encoding="utf-8", errors="replace") != text and not force:
            raise BadUsage(f"{target} exists and differs from this zsaudit's DAG; use --force to replace it")
        shutil.copyfile(DAG_FILE, target)
        click.echo(f"installed {target}", err=do_print)
        click.echo("next: airflow variables set zsaudit_config /path/to/zsaudit.toml", err=do_print)
