"""One module per command group; importing them registers the commands on the CLI."""

from . import analyze, ingest_airflow, ingest_zscaler, receive, report, run, synth  # noqa: F401
