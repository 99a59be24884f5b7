"""Where zsaudit writes (issue #11 case 7, issue #18 items 4 and 6).

Every command that writes files reports an unwritable or wrong --out as one line and exit 2;
`pack.out_dir` must be a folder zsaudit owns; `report --out` swaps a complete pack in under a
lock: a killed report leaves the previous pack intact, a concurrent one fails naming the lock."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import report_data
from zsaudit.cli import main
from zsaudit.report import verify
from zsaudit.store import Store

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_usage_error(res, *needles):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("zsaudit: "), res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture
def read_only(tmp_path):
    """A folder nobody can write in, root included (chmod, else the immutable attribute)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "existing").mkdir()
    ro.chmod(0o555)
    (ro / "existing").chmod(0o555)
    immutable = []
    for d in (ro / "existing", ro):
        if os.access(d, os.W_OK):  # root ignores the mode bits
            if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode == 0:
                immutable.append(d)
            else:
                pytest.skip("cannot make a read-only folder here (root without chattr)")
    yield ro
    for d in immutable:
        subprocess.run(["chattr", "-i", str(d)], check=True)
    for d in (ro, ro / "existing"):
        d.chmod(0o755)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("store")
    with Store(tmp / "z.duckdb") as store:
        report_data.build(store, tmp)
    return tmp / "z.duckdb"


def report(db, out, *extra):
    return invoke("report", "--out", out, "--db", db, "--no-pdf", "--generated-at", report_data.GENERATED_AT, *extra)


# -- one line and exit 2 for every command that writes ----------------------------------------------
def writers(db, night_dir):
    return {
        "report": lambda out: report(db, out),
        "init": lambda out: invoke("init", out),
        "airflow-dag": lambda out: invoke("airflow-dag", "--install", out),
        "demo": lambda out: invoke("demo", "--out", out, "--requests", "50", "--no-pdf", "-q"),
        "synth": lambda out: invoke("synth", "--out", out, "--requests", "100", "-q"),
    }


@pytest.mark.parametrize("command", ["report", "init", "airflow-dag", "demo", "synth"])
def test_read_only_out(command, db, read_only, tmp_path):
    write = writers(db, tmp_path)[command]
    target = read_only / "existing" if command == "airflow-dag" else read_only / "new"
    assert_usage_error(write(target), str(read_only))
    if command != "airflow-dag":
        assert_usage_error(write(read_only / "existing"), str(read_only / "existing"))


@pytest.mark.parametrize("command", ["report", "init", "airflow-dag", "demo", "synth"])
def test_a_file_where_a_folder_is_expected(command, db, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    res = writers(db, tmp_path)[command](afile)
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert afile.read_text() == "mine"
    res = writers(db, tmp_path)[command](afile / "sub")
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output


@pytest.mark.parametrize("command", ["report", "init", "airflow-dag", "demo", "synth"])
def test_missing_parent(command, db, tmp_path):
    res = writers(db, tmp_path)[command](tmp_path / "typo" / "out")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and str(tmp_path / "typo") in res.output
    assert not (tmp_path / "typo").exists()


def test_report_into_the_filesystem_root_or_a_foreign_folder(db, tmp_path):
    assert_usage_error(report(db, "/"), "/")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    assert_usage_error(report(db, mine), "thesis.tex")
    assert (mine / "thesis.tex").read_text() == "precious"


# -- pack.out_dir -----------------------------------------------------------------------------------
def config_with_out_dir(tmp_path: Path, out_dir: str) -> Path:
    night = tmp_path / "night"
    (night / "zscaler").mkdir(parents=True)
    (tmp_path / "identity.toml").write_text((ROOT / "fixtures" / "identity" / "two_accounts.toml").read_text())
    config = tmp_path / "zsaudit.toml"
    config.write_text(f'identity_map = "identity.toml"\n[zscaler]\npaths = ["{night / "zscaler"}"]\n'
                      f'[pack]\nout_dir = {json.dumps(out_dir)}\npdf = false\n')
    return config


def run(config: Path):
    return invoke("run", "--config", config, "--since", "2026-11-24", "--until", "2026-11-25")


def test_pack_out_dir_at_the_filesystem_root_is_refused(tmp_path):
    res = run(config_with_out_dir(tmp_path, "/"))
    assert_usage_error(res, "pack.out_dir", "filesystem root")
    assert not Path("/2026-11-24").exists()


def test_pack_out_dir_pointing_at_a_file(tmp_path):
    (tmp_path / "packs").write_text("a file")
    assert_usage_error(run(config_with_out_dir(tmp_path, "packs")), "pack.out_dir", "not a folder")


def test_pack_out_dir_foreign_then_claimed(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    config = config_with_out_dir(tmp_path, str(home))
    assert_usage_error(run(config), "notes.txt", ".zsaudit-packs")
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]
    (home / ".zsaudit-packs").touch()   # the user says this folder is for packs
    assert run(config).exit_code == 0
    assert (home / "2026-11-24" / "index.html").is_file() and (home / "notes.txt").read_text() == "mine"


def test_pack_out_dir_read_only(tmp_path, read_only):
    assert_usage_error(run(config_with_out_dir(tmp_path, str(read_only / "existing"))), "pack.out_dir")


def test_pack_out_dir_is_created_and_holds_only_packs(tmp_path):
    config = config_with_out_dir(tmp_path, "packs")
    assert run(config).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "packs").iterdir()) == ["2026-11-24"]
    (tmp_path / "packs" / "README").write_text("someone's notes")
    assert_usage_error(run(config), "README", ".zsaudit-packs")


# -- atomic and locked packs --------------------------------------------------------------------------
KILL_WHILE_RENDERING = """
import os, signal, sys
from zsaudit.cli import main
from zsaudit.report import html

real = html.render
def render(*a, **k):
    text = real(*a, **k)
    os.kill(os.getpid(), signal.SIGKILL)   # index.html is being written: no finally, no clean-up
html.render = render
main(sys.argv[1:])
"""


def test_killed_report_leaves_the_previous_pack_and_its_rerun_works(db, tmp_path):
    out = tmp_path / "pack"
    assert report(db, out).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    killed = subprocess.run([sys.executable, "-c", KILL_WHILE_RENDERING, "report", "--out", str(out), "--db", str(db),
                             "--no-pdf", "--generated-at", "2026-11-26T00:00:00Z"],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert verify(out) == []
    assert (tmp_path / ".zsaudit-tmp-pack").is_dir()            # the killed render's leftovers ...
    again = report(db, out, "--sample-seed", "7")
    assert again.exit_code == 0, again.output
    assert verify(out) == [] and json.loads((out / "manifest.json").read_text())["sample"]["seed"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]   # ... are gone, and no lock file stays


HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
from zsaudit.output import write_atomically

def write(tmp):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
write_atomically(Path(sys.argv[1]), write, is_ours=lambda p: True)
"""


def _hold_the_lock(out, seconds):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(out), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_second_report_into_the_same_folder_waits_then_fails_naming_the_lock(db, tmp_path):
    out = tmp_path / "pack"
    assert report(db, out).exit_code == 0
    before = (out / "manifest.json").read_bytes()
    holder = _hold_the_lock(out, 120)
    try:
        started = time.monotonic()
        res = report(db, out, "--lock-wait", "1.5")
        waited = time.monotonic() - started
        assert_usage_error(res, str(tmp_path / ".zsaudit-lock-pack"), f"pid {holder.pid}", "waited 1.5 s",
                           "try again")
        assert waited >= 1.5
        assert (out / "manifest.json").read_bytes() == before and verify(out) == []
        assert_usage_error(report(db, out, "--lock-wait", "0"), "try again")   # 0: no wait at all
    finally:
        holder.kill()
        holder.wait()
    assert report(db, out).exit_code == 0   # the lock dies with its holder


def test_a_report_waits_for_the_writer_before_it_and_then_writes(db, tmp_path):
    """A busy pack folder is not an error while its writer finishes within --lock-wait (default 60 s)."""
    out = tmp_path / "pack"
    holder = _hold_the_lock(out, 2)
    try:
        started = time.monotonic()
        res = report(db, out, "--sample-seed", "7")
        assert res.exit_code == 0, res.output
        assert time.monotonic() - started >= 1.0 and holder.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()
    assert verify(out) == [] and json.loads((out / "manifest.json").read_text())["sample"]["seed"] == 7


def test_concurrent_reports_never_mix_packs(db, tmp_path):
    """Two real `zsaudit report`s into one folder, different samples: each exits 0 or 2 (the lock),
    and the folder holds exactly one of the two packs, intact."""
    out = tmp_path / "pack"
    cmd = [sys.executable, "-m", "zsaudit", "report", "--out", str(out), "--db", str(db), "--no-pdf",
           "--generated-at", str(report_data.GENERATED_AT)]
    for attempt in range(3):
        procs = [subprocess.Popen([*cmd, "--sample-seed", str(seed)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        for code, err in results:
            assert code in (0, 2), err
            if code == 2:
                assert ".zsaudit-lock-pack" in err and "Traceback" not in err
        assert verify(out) == []
        assert json.loads((out / "manifest.json").read_text())["sample"]["seed"] in (1, 2)
        time.sleep(0.1)
