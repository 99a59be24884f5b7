"""`zsaudit init`, the zsaudit.toml it writes and how bad configs are refused, `zsaudit airflow-dag`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.config import load_config
from zsaudit.errors import BadUsage
from zsaudit.identity_map import load as load_identity_map

DAG_FILE = Path(__file__).resolve().parent.parent / "zsaudit" / "airflow" / "dags" / "zsaudit_nightly.py"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_init_writes_a_commented_config_and_identity_map_that_load(tmp_path):
    result = invoke("init", tmp_path / "etc")
    assert result.exit_code == 0, result.output
    toml, imap = tmp_path / "etc" / "zsaudit.toml", tmp_path / "etc" / "identity.toml"
    assert f"wrote {toml}" in result.output and f"wrote {imap}" in result.output
    assert "zsaudit run --config" in result.output
    text = toml.read_text()
    assert text.count("#") > 15  # every setting explained
    config = load_config(toml)
    assert config.db == tmp_path / "etc" / "zsaudit.duckdb"        # relative to the file
    assert config.identity_map == tmp_path / "etc" / "identity.toml"
    assert config.pack_dir == tmp_path / "etc" / "packs"
    assert config.zscaler_paths == ("/var/log/zscaler",)
    assert config.airflow_paths == ("/opt/airflow/logs", "/opt/airflow/airflow.db")
    assert config.fail_on == "high" and config.pdf is True and config.retention_days == 400
    assert config.since is None and config.until is None     # yesterday by default
    assert config.ingest_workers is None                     # one per core unless set
    assert "# workers = 4" in text
    toml.write_text(text.replace("# workers = 4", "workers = 4"))
    assert load_config(toml).ingest_workers == 4
    toml.write_text(text)
    assert load_identity_map(imap).workers[0].hostname == "airflow-worker-1"
    # the commented [controls."CC6.1"] example loads once uncommented
    owners = "\n".join(line[2:] if line.startswith("# ") and "=" in line and line[2:3] in "[orn" else line
                       for line in text.splitlines())
    assert '[controls."CC6.1"]' in owners
    toml.write_text(owners.replace("# [controls", "[controls"))
    assert load_config(toml).controls["CC6.1"] == {
        "owner": "Jane Doe", "owner_role": "Head of Data Platform", "reviewer": "Bob Roe",
        "reviewer_role": "Security Compliance Lead", "reviewed": "2026-12-02"}


def test_init_refuses_to_overwrite_without_force(tmp_path):
    assert invoke("init", tmp_path).exit_code == 0
    (tmp_path / "zsaudit.toml").write_text("# mine\n")
    again = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert again.exit_code == 2
    assert "already exist" in again.output and "--force" in again.output
    assert (tmp_path / "zsaudit.toml").read_text() == "# mine\n"
    assert invoke("init", tmp_path, "--force").exit_code == 0
    assert "[zscaler]" in (tmp_path / "zsaudit.toml").read_text()


def write(tmp_path, text: str) -> Path:
    (tmp_path / "identity.toml").write_text("")
    p = tmp_path / "zsaudit.toml"
    p.write_text(text)
    return p


BASE = 'identity_map = "identity.toml"\n[zscaler]\npaths = ["logs"]\n'


@pytest.mark.parametrize("text, key, expected", [
    (BASE + "[pack]\nretention_days = -1\n", "pack.retention_days", "whole number of days"),
    (BASE + "[pack]\nretention_days = \"30d\"\n", "pack.retention_days", "whole number of days"),
    (BASE + "[pack]\npdf = \"yes\"\n", "pack.pdf", "true or false"),
    (BASE + "[pack]\nout = \"packs\"\n", "pack.out", "unknown key"),
    (BASE + "[run]\nfail_on = \"severe\"\n", "run.fail_on", "none, low, medium, high, critical"),
    (BASE + "[run]\nsince = \"yesterday-ish\"\nuntil = \"2026-11-25\"\n", "run.since", "ISO 8601"),
    (BASE + "[run]\nsince = \"2026-11-24\"\n", "run.since", "go together"),
    (BASE + "[run]\nsince = 2026-11-25\nuntil = 2026-11-24\n", "run.until", "after run.since"),
    (BASE + "[zscaler]\n", "zscaler", "Cannot declare"),   # duplicate table: TOML error
    (BASE.replace('["logs"]', "7"), "zscaler.paths", "a list of paths"),
    (BASE + "[zscaler]\nformat = \"xml\"\n", "zscaler", "Cannot declare"),
    ('identity_map = "identity.toml"\n[zscaler]\npaths = ["l"]\nformat = "xml"\n', "zscaler.format", "json"),
    ('[zscaler]\npaths = ["l"]\n', "identity_map", "is required"),
    ('identity_map = "identity.toml"\n', "zscaler.paths", "nothing to audit"),
    ("dbb = \"x\"\n" + BASE, "dbb", "unknown key"),
    (BASE + "dbb = \"x\"\n", "zscaler.dbb", "unknown key"),
    (BASE + '[controls."CC9.9"]\nowner = "A"\n', "controls.CC9.9", "not a criterion"),
    (BASE + '[controls."CC6.1"]\nowner = 7\n', "controls.CC6.1.owner", "as text"),
    (BASE + '[controls."CC6.1"]\nsigner = "A"\n', "controls.CC6.1.signer", "unknown key"),
    (BASE + '[controls."CC6.1"]\nreviewed = "last week"\n', "controls.CC6.1.reviewed", "a date"),
    (BASE + "[ingest]\nworkers = 0\n", "ingest.workers", "a whole number of ingest workers from 1 to 64"),
    (BASE + "[ingest]\nworkers = \"4\"\n", "ingest.workers", "a whole number of ingest workers"),
    (BASE + "[ingest]\nworkers = 2.5\n", "ingest.workers", "a whole number of ingest workers"),
    (BASE + "[ingest]\nworkers = 65\n", "ingest.workers", "got 65"),
])
def test_bad_config_is_refused_naming_the_key(tmp_path, text, key, expected):
    path = write(tmp_path, text)
    with pytest.raises(BadUsage) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert expected in message
    if expected != "Cannot declare":
        assert f"'{key}'" in message


def test_bad_config_through_the_cli_exits_2_with_the_key(tmp_path):
    path = write(tmp_path, BASE + "[pack]\nretention_days = -3\n")
    result = CliRunner().invoke(main, ["run", "--config", str(path)])
    assert result.exit_code == 2
    assert "key 'pack.retention_days'" in result.output


def test_missing_config_file_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["run", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "zsaudit init" in result.output


def test_config_accepts_toml_dates_and_globs(tmp_path):
    path = write(tmp_path, BASE + "[airflow]\npaths = [\"af/**/*.log\", \"postgresql://u@h/airflow\"]\n"
                                  "[run]\nsince = 2026-11-20\nuntil = 2026-11-21T06:00:00Z\nfail_on = \"HIGH\"\n")
    config = load_config(path)
    assert config.since.isoformat() == "2026-11-20T00:00:00+00:00"
    assert config.until.isoformat() == "2026-11-21T06:00:00+00:00"
    assert config.fail_on == "high"
    assert config.airflow_paths == (str(tmp_path / "af/**/*.log"), "postgresql://u@h/airflow")


def test_airflow_dag_print_is_the_shipped_file():
    result = invoke("airflow-dag", "--print")
    assert result.exit_code == 0
    assert result.output == DAG_FILE.read_text()


def test_airflow_dag_install_copies_and_refuses_to_clobber(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    result = invoke("airflow-dag", "--install", dags)
    assert result.exit_code == 0 and "installed" in result.output
    assert (dags / "zsaudit_nightly.py").read_text() == DAG_FILE.read_text()
    assert invoke("airflow-dag", "--install", dags).exit_code == 0        # same file: fine
    (dags / "zsaudit_nightly.py").write_text("# local edit\n")
    clobber = CliRunner().invoke(main, ["airflow-dag", "--install", str(dags)])
    assert clobber.exit_code == 2 and "--force" in clobber.output
    assert invoke("airflow-dag", "--install", dags, "--force").exit_code == 0
    missing = CliRunner().invoke(main, ["airflow-dag", "--install", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such directory" in missing.output
    assert CliRunner().invoke(main, ["airflow-dag"]).exit_code == 2


def test_shipped_dag_imports_nothing_heavy_at_parse_time():
    """Module-level imports are stdlib and Airflow only; zsaudit is imported inside the tasks."""
    tree = ast.parse(DAG_FILE.read_text())
    top = []
    for node in tree.body:
        nodes = [node] + (node.body + node.handlers[0].body if isinstance(node, ast.Try) else [])
        for n in nodes:
            if isinstance(n, ast.Import):
                top += [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                top.append(n.module or "")
    assert top, "expected some imports"
    assert all(m.split(".")[0] in {"__future__", "datetime", "os", "airflow"} for m in top), top
    source = DAG_FILE.read_text()
    assert 'schedule="@daily"' in source
    assert "ingest_zscaler() >> ingest_airflow() >> analyze() >> report()" in source
    assert "retry_exponential_backoff" in source
