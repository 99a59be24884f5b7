"""--help teaches: every command is listed with a whole one-line summary, none cut short."""

from __future__ import annotations

from click.testing import CliRunner

from zsaudit.cli import main

COMMANDS = ["airflow-dag", "analyze", "demo", "findings", "ingest", "init", "receive", "report", "run", "synth",
            "verify"]


def _summaries(args):
    out = CliRunner().invoke(main, [*args, "--help"], terminal_width=80).output
    listing = out.split("Commands:")[1].strip().splitlines()
    return {line.split()[0]: line.split(None, 1)[1] for line in listing}


def test_root_help_lists_every_command_with_a_whole_summary():
    got = _summaries([])
    assert sorted(got) == COMMANDS
    for name, summary in got.items():
        assert not summary.endswith("..."), f"{name}: summary cut short: {summary!r}"


def test_ingest_help_lists_both_sources():
    got = _summaries(["ingest"])
    assert sorted(got) == ["airflow", "zscaler"]
    assert all(not s.endswith("...") for s in got.values())
