"""Exit codes a scheduler can trust (issue #18 item 6): 0 ok, 1 findings, 2 bad usage or input,
3 internal error with a one-line message and the traceback in a log file (or under --debug).
Config and identity-map paths that used to crash, hang or eat memory are usage errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit.analyze import listing
from zsaudit.cli import main
from zsaudit.errors import BadInput, Busy, FindingsAtOrAbove, exit_code_for, is_retryable
from zsaudit.store import Store

ROOT = Path(__file__).resolve().parent.parent
IDENTITY = ROOT / "fixtures" / "identity" / "two_accounts.toml"


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "s.duckdb"
    Store(path).close()
    return path


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_internal_error_is_exit_3_with_one_line_and_a_log(tmp_path, db, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("the store returned nonsense\nsecond line")

    monkeypatch.setattr(listing, "list_findings", broken)
    logs = tmp_path / "logs"
    res = invoke("findings", "--db", db, env={"ZSAUDIT_LOG_DIR": str(logs)})
    assert res.exit_code == 3, res.output
    line = one_line(res.stderr)
    assert line.startswith("zsaudit: internal error: RuntimeError: the store returned nonsense (traceback in ")
    assert "Traceback" not in res.stderr
    (log,) = logs.glob("crash-*.log")
    text = log.read_text()
    assert str(log) in line and "Traceback (most recent call last)" in text and "broken" in text


def test_debug_prints_the_traceback(tmp_path, db, monkeypatch):
    monkeypatch.setattr(listing, "list_findings", lambda *a, **k: 1 / 0)
    res = invoke("--debug", "findings", "--db", db,
                 env={"ZSAUDIT_LOG_DIR": str(tmp_path / "logs")})
    assert res.exit_code == 3
    assert "Traceback (most recent call last)" in res.stderr and "ZeroDivisionError" in res.stderr
    assert res.stderr.rstrip().splitlines()[-1].startswith("zsaudit: internal error: ZeroDivisionError")


def test_internal_error_exit_code_of_the_real_process(tmp_path, db):
    """The installed entry point exits 3 (not 1, the findings code) on an error zsaudit did not expect."""
    code = ("import sys, zsaudit.analyze.listing as f\n"
            "def boom(*a, **k): raise KeyError('x')\n"
            "f.list_findings = boom\n"
            "from zsaudit.cli import main\n"
            "main(['findings', '--db', sys.argv[1]])\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.duckdb")], capture_output=True, text=True,
                          env={**os.environ, "ZSAUDIT_LOG_DIR": str(tmp_path / "logs")}, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert one_line(proc.stderr).startswith("zsaudit: internal error: KeyError")


def test_usage_errors_stay_exit_2_and_click_errors_too(tmp_path):
    assert invoke("report").exit_code == 2                         # missing --out
    assert invoke("findings", "--format", "xml").exit_code == 2
    res = invoke("findings", "--db", tmp_path / "missing.duckdb")
    assert res.exit_code == 2 and res.stderr.startswith("zsaudit: ")


def test_exception_classes_map_to_the_documented_codes():
    assert exit_code_for(BadInput("x")) == 2 and not is_retryable(BadInput("x"))
    assert exit_code_for(Busy("x")) == 2 and is_retryable(Busy("x"))
    assert exit_code_for(FindingsAtOrAbove("x")) == 1
    assert exit_code_for(MemoryError()) == 3 and is_retryable(MemoryError())


# -- config and identity-map paths ---------------------------------------------------------------
def deep_toml(path: Path) -> Path:
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    return path


@pytest.fixture
def fifo(tmp_path) -> Path:
    p = tmp_path / "fifo.toml"
    os.mkfifo(p)
    return p


@pytest.mark.parametrize("make, expected", [
    (lambda tmp, fifo: deep_toml(tmp / "deep.toml"), "nested too deeply"),
    (lambda tmp, fifo: Path("/dev/zero"), "not a regular file"),
    (lambda tmp, fifo: fifo, "not a regular file"),
])
def test_identity_map_paths_that_crashed_or_hung(tmp_path, fifo, make, expected):
    path = make(tmp_path, fifo)
    res = subprocess.run([sys.executable, "-m", "zsaudit", "analyze", "--identity-map", str(path),
                          "--db", str(tmp_path / "s.duckdb")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert str(path) in one_line(res.stderr) and expected in res.stderr


def test_identity_map_too_large(tmp_path):
    big = tmp_path / "big.toml"
    with big.open("w") as f:
        f.write("# padding\n" * 500_000)
    res = invoke("analyze", "--identity-map", big, "--db", tmp_path / "s.duckdb")
    assert res.exit_code == 2 and "larger than 4 MiB" in res.stderr


@pytest.mark.parametrize("make, expected", [
    (lambda tmp, fifo: deep_toml(tmp / "zsaudit.toml"), "nested too deeply"),
    (lambda tmp, fifo: fifo, "not a regular file"),
])
def test_config_paths_that_crashed_or_hung(tmp_path, fifo, make, expected):
    path = make(tmp_path, fifo)
    res = subprocess.run([sys.executable, "-m", "zsaudit", "run", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert expected in one_line(res.stderr)


def test_a_closed_stdout_pipe_is_not_an_internal_error():
    """`zsaudit ... | head`: the reader went away; no crash log, no message, the SIGPIPE code."""
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "zsaudit", "airflow-dag", "--print"], stdout=w,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(w)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""
