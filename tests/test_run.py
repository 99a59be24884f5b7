"""`zsaudit run --config`: the nightly job end to end through the CLI, on a synthetic night.

init -> run -> run again (idempotent, same bytes) -> interrupted run recovery -> verify the pack;
exit codes 0 / 1 (--fail-on) / 2; the --json schema; progress output; retention.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit import periods, pipeline
from zsaudit.packs import PACKS_MARKER
from zsaudit.cli import main
from zsaudit.config import load_config
from zsaudit.progress import Progress
from zsaudit.report import verify
from zsaudit.store import Store
from zsaudit.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("ingest_ledger", "rejects", "zia_web", "zpa_user_activity", "zpa_user_status", "task_attempts",
          "task_connections", "task_egress_hints", "airflow_log_lines", "findings", "attributions")


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """One synthetic night (read-only input shared by the tests of this module)."""
    out = tmp_path_factory.mktemp("night")
    result = synthesize(out, requests=300, seed=5)
    return result


def setup_config(tmp_path: Path, night, **pack) -> Path:
    """`zsaudit init`, then point the example at the synthetic night (as a user would edit it).
    No PDF unless asked (pdf=True): WeasyPrint is the slow part and has its own tests. fail_on
    "none" unless asked (`init` writes "high"; the night has high findings)."""
    pack.setdefault("pdf", False)
    pack.setdefault("fail_on", "none")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "zsaudit.toml"
    text = path.read_text()
    text = text.replace('identity_map = "identity.toml"', f'identity_map = "{night.identity_path}"')
    text = text.replace('paths = ["/var/log/zscaler"]', f'paths = ["{night.out_dir / "zscaler"}"]')
    text = text.replace('paths = ["/opt/airflow/logs", "/opt/airflow/airflow.db"]',
                        f'paths = ["{night.out_dir / "airflow" / "logs"}", '
                        f'"{night.out_dir / "airflow" / "task_instances.json"}"]')
    for key, value in pack.items():
        text = text.replace(f"\n{key} = ", f"\n{key} = {json.dumps(value)}  # was: ", 1)
    path.write_text(text)
    return path


def period_args(night) -> list[str]:
    return ["--since", night.since.isoformat(), "--until", night.until.isoformat()]


def run_cli(config: Path, night, *extra, ok=(0,)):
    result = CliRunner().invoke(main, ["run", "--config", str(config), *period_args(night), *extra])
    assert result.exit_code in ok, result.output
    return result


def counts(db: Path) -> dict:
    with Store(db, read_only=True) as s:
        return {t: s.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def pack_dir(config: Path, night) -> Path:
    return load_config(config).pack_dir / night.since.strftime("%Y-%m-%d")


def check_json_summary(result, night):
    """The --json summary of a first run with pdf = true and --fail-on high: its schema, its counts,
    the pack verified and its real PDF (test_init_run_rerun_gives_the_same_pack's first run)."""
    data = json.loads(result.stdout)
    assert set(data) == {"zsaudit_version", "period", "db", "ingest", "findings", "pack", "fail_on",
                         "failing_findings", "exit_code", "warnings"}
    assert data["period"] == {"since": f"{night.since:%Y-%m-%dT%H:%M:%SZ}", "until": f"{night.until:%Y-%m-%dT%H:%M:%SZ}"}
    assert set(data["ingest"]) == {"zscaler", "airflow"}
    for part in data["ingest"].values():
        assert set(part) == {"paths", "files_new", "files_skipped", "files_replaced", "lines_read",
                             "rows_loaded", "rows_rejected", "rows_duplicate", "files_refused",
                             "files_over_reject_rate", "warnings"}
        assert part["files_new"] > 0 and part["rows_loaded"] > 0
    f = data["findings"]
    assert set(f) == {"analyzed", "analysis_id", "total", "open", "accepted", "by_kind", "by_severity",
                      "not_evaluable"}
    assert f["total"] == f["open"] + f["accepted"] and sum(f["by_kind"].values()) == f["open"]
    assert set(f["by_kind"]) <= {"unmapped_identity", "token_gap", "silent_failure", "egress_bypass",
                                 "unattributed_egress"}
    assert data["pack"]["verified"] is True and data["pack"]["problems"] == []
    assert Path(data["pack"]["index_html"]).is_file() and Path(data["pack"]["pdf"]).is_file()
    assert data["fail_on"] == "high"
    assert data["exit_code"] == result.exit_code == (1 if data["failing_findings"] else 0)
    assert data["failing_findings"] == sum(n for s, n in f["by_severity"].items() if s in ("high", "critical"))


def test_init_run_rerun_gives_the_same_pack(tmp_path, night):
    """A first run (its --json summary checked: check_json_summary), a rerun that finds nothing new
    and a forced re-analysis (its plain summary checked) give the same pack, nothing loaded twice."""
    config = setup_config(tmp_path, night, pdf=True)
    pack = pack_dir(config, night)
    check_json_summary(run_cli(config, night, "--json", "--fail-on", "high", ok=(0, 1)), night)
    for name in ("index.html", "audit-pack.pdf", "manifest.json", "findings.ocsf.json"):
        assert (pack / name).is_file()
    assert verify(pack) == []
    assert oct(pack.stat().st_mode & 0o777) != oct(0o700)                # readable like any folder
    before = counts(load_config(config).db)
    assert before["findings"] > 0 and before["task_attempts"] > 0 and before["zia_web"] > 0
    html, manifest = (pack / "index.html").read_bytes(), (pack / "manifest.json").read_bytes()

    second = run_cli(config, night)
    assert "ingest zscaler: 0 new files" in second.output and "ingest airflow: 0 new files" in second.output
    assert "analysis unchanged" in second.output
    assert counts(load_config(config).db) == before                       # nothing twice
    assert (pack / "index.html").read_bytes() == html                     # same bytes
    assert (pack / "manifest.json").read_bytes() == manifest
    assert CliRunner().invoke(main, ["verify", str(pack)]).exit_code == 0
    assert sorted(p.name for p in pack.parent.iterdir()) == [pack.name]   # no temp dirs left

    # forced: same findings. Without the PDF: the second run's same manifest bytes already showed a
    # rerun's PDF is the same, and WeasyPrint is most of a run's time
    config.write_text(config.read_text().replace("\npdf = true", "\npdf = false", 1))
    assert load_config(config).pdf is False
    third = run_cli(config, night, "--reanalyze")
    assert "analyze: analyzed;" in third.output
    assert f"period {night.since:%Y-%m-%d}T00:00:00Z" in third.output
    assert "ingest zscaler: " in third.output and "ingest airflow: " in third.output
    assert f"{pack / 'index.html'}" in third.output and "(verified)" in third.output
    assert counts(load_config(config).db) == before


KILLER = """
import contextlib, os, signal, sys, traceback
from zsaudit import pipeline, store
from zsaudit.config import load_config
from zsaudit.progress import Progress

where, n = sys.argv[2], int(sys.argv[3])

def die():
    os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no rollback, no finally

class KillAtLog(Progress):
    # Dies at the n-th progress line containing `where`.
    def log(self, message):
        global n
        if where in message:
            n -= 1
            if n == 0:
                die()

original = store.transaction

@contextlib.contextmanager
def transaction(con):
    # Dies inside (after BEGIN, before COMMIT) the n-th transaction opened from module `where`
    # (store.transaction: every transaction of zsaudit begins there, Store's and chunked ones too).
    global n
    with original(con) as c:
        caller = [f.filename for f in traceback.extract_stack()[:-1]
                  if "/zsaudit/" in f.filename and not f.filename.endswith("/zsaudit/store.py")]
        if caller and caller[-1].endswith(where):
            n -= 1
            if n == 0:
                c.execute("SELECT 1")
                die()
        yield c

store.transaction = transaction
config = load_config(sys.argv[1])
pipeline.run(config, since=sys.argv[4], until=sys.argv[5], progress=KillAtLog(quiet=False))
"""


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, night):
    """Row counts and pack counts of an uninterrupted run: what a recovered run must equal."""
    config = setup_config(tmp_path_factory.mktemp("clean"), night)
    run_cli(config, night)
    manifest = json.loads((pack_dir(config, night) / "manifest.json").read_text())
    return counts(load_config(config).db), manifest["counts"], load_config(config).db


def with_clean_store(config: Path, clean_run) -> Path:
    """`config` with a copy of clean_run's store (the night ingested and analysed) as its db: for
    tests of what a run decides and writes (exit codes, retention), not of ingest or analysis."""
    shutil.copy(clean_run[2], load_config(config).db)
    return config


@pytest.mark.slow
@pytest.mark.parametrize("word, n", [
    ("ingest/zscaler.py", 2),              # loading the second Zscaler file (the first committed)
    ("ingest/airflow_logs.py", 1),         # loading the Airflow task logs
    ("ingest/airflow_metadata.py", 1),     # loading the task-instance metadata
    ("analyze/analysis.py", 1),             # writing the analysis
    ("report: index.html written", 1),     # rendering the pack (HTML written, PDF/manifest not yet)
])
def test_killed_run_then_rerun_loses_nothing_and_duplicates_nothing(tmp_path, night, clean_run, word, n):
    """SIGKILL inside an open transaction of each ingester and of the analysis, and while rendering;
    the next run completes as if the first had never been killed."""
    clean, clean_pack_counts, _ = clean_run
    config = setup_config(tmp_path / "killed", night)
    killed = subprocess.run([sys.executable, "-c", KILLER, str(config), word, str(n),
                             night.since.isoformat(), night.until.isoformat()],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    pack = pack_dir(config, night)
    assert not (pack / "manifest.json").exists()     # never a half-written pack in place

    rerun = run_cli(config, night)
    assert "(verified)" in rerun.output
    assert counts(load_config(config).db) == clean
    assert verify(pack) == []
    assert sorted(p.name for p in pack.parent.iterdir()) == [pack.name]   # temp dir of the kill removed
    assert json.loads((pack / "manifest.json").read_text())["counts"] == clean_pack_counts


def test_exit_codes(tmp_path, night, clean_run):
    config = with_clean_store(setup_config(tmp_path, night), clean_run)
    low = CliRunner().invoke(main, ["run", "--config", str(config), *period_args(night), "--fail-on", "low"])
    assert low.exit_code == 1, low.output
    assert "FAIL:" in low.output and "open findings at or above low" in low.output
    assert (pack_dir(config, night) / "index.html").is_file()            # the pack is written anyway
    assert run_cli(config, night, "--fail-on", "none").exit_code == 0
    assert run_cli(config, night).exit_code == 0                          # config: fail_on = "none"
    bad = CliRunner().invoke(main, ["run", "--config", str(config), "--fail-on", "severe"])
    assert bad.exit_code == 2 and "--fail-on" in bad.output
    backwards = CliRunner().invoke(main, ["run", "--config", str(config), "--since", "2026-11-25",
                                          "--until", "2026-11-24"])
    assert backwards.exit_code == 2 and "--until" in backwards.output


def test_config_fail_on_and_missing_inputs(tmp_path, night, clean_run):
    config = with_clean_store(setup_config(tmp_path, night), clean_run)
    config.write_text(config.read_text().replace('fail_on = "none"', 'fail_on = "low"'))
    assert CliRunner().invoke(main, ["run", "--config", str(config), *period_args(night)]).exit_code == 1
    config.write_text(config.read_text().replace(str(night.out_dir / "zscaler"), str(tmp_path / "gone")))
    gone = CliRunner().invoke(main, ["run", "--config", str(config), *period_args(night)])
    assert gone.exit_code == 2
    assert "key 'zscaler.paths[0]'" in gone.output and "does not exist" in gone.output


def test_quiet_prints_nothing_and_plain_progress_off_a_tty(tmp_path, night):
    config = setup_config(tmp_path, night)
    quiet = run_cli(config, night, "--quiet")
    assert quiet.stdout == "" and quiet.stderr == ""
    # off a terminal: progress as plain lines on stderr, the summary on stdout
    result = run_cli(tmp_path_config := setup_config(tmp_path / "b", night), night)
    assert "ingest zscaler: 1/" in result.stderr and "\r" not in result.stderr
    assert "zsaudit run: period" in result.stdout and "ingest zscaler: 1/" not in result.stdout
    assert tmp_path_config.exists()


class FakeTTY:
    def __init__(self):
        self.parts = []

    def write(self, s):
        self.parts.append(s)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_progress_bars_on_a_terminal(tmp_path, night):
    config = load_config(setup_config(tmp_path, night))
    tty = FakeTTY()
    pipeline.run(config, since=night.since, until=night.until, progress=Progress(stream=tty))
    out = "".join(tty.parts)
    assert "ingest zscaler" in out and "%" in out      # click's bar: label, [####...], percentage


def test_retention_removes_only_old_dated_packs(tmp_path, night, clean_run):
    config = with_clean_store(setup_config(tmp_path, night), clean_run)
    config.write_text(config.read_text().replace("retention_days = 400", "retention_days = 30"))
    packs = load_config(config).pack_dir
    old, recent, foreign, unmarked = (packs / "2025-01-01", packs / f"{night.since:%Y-%m}-01",
                                      packs / "my-notes", packs / "2024-12-31")
    for d in (old, recent, foreign, unmarked):
        d.mkdir(parents=True)
    for d in (old, recent, foreign):
        (d / "manifest.json").write_text("{}")
    (packs / PACKS_MARKER).touch()  # the user says the folder is for packs, notes and all
    stale_tmp = packs / f".zsaudit-tmp-{night.since:%Y-%m-%d}"   # a killed run's
    stale_tmp.mkdir()
    result = run_cli(config, night, "--json")
    assert json.loads(result.stdout)["pack"]["removed_by_retention"] == ["2025-01-01"]
    assert not old.exists() and not stale_tmp.exists()
    assert recent.exists() and foreign.exists() and unmarked.exists()   # not ours or not old: kept


def test_period_defaults_to_yesterday_utc():
    config = None
    now = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
    assert periods.resolve_period(config, now=now) == (datetime(2026, 11, 24, tzinfo=timezone.utc),
                                                        datetime(2026, 11, 25, tzinfo=timezone.utc))
    since_only = periods.resolve_period(config, since="2026-11-20", now=now)
    assert since_only == (datetime(2026, 11, 20, tzinfo=timezone.utc), datetime(2026, 11, 25, tzinfo=timezone.utc))
    until_only = periods.resolve_period(config, until="2026-11-10", now=now)
    assert until_only == (datetime(2026, 11, 9, tzinfo=timezone.utc), datetime(2026, 11, 10, tzinfo=timezone.utc))
    assert periods.pack_name(*periods.resolve_period(config, now=now)) == "2026-11-24"
    assert periods.pack_name(datetime(2026, 11, 20, tzinfo=timezone.utc),
                              datetime(2026, 11, 25, tzinfo=timezone.utc)) == "2026-11-20--2026-11-25"
    assert periods.pack_name(datetime(2026, 11, 20, 6, tzinfo=timezone.utc),
                              datetime(2026, 11, 20, 18, tzinfo=timezone.utc)) == "2026-11-20T0600Z--2026-11-20T1800Z"

@pytest.mark.parametrize("interval, logical_date, run_after, expected", [
    # Airflow 3 @daily (CronTriggerTimetable): start == end == the trigger time -> the day that just ended
    (("2026-11-26T00:00:00+00:00", "2026-11-26T00:00:00+00:00"), "2026-11-26T00:00:00+00:00", None, "2026-11-25"),
    # Airflow 2 @daily (CronDataIntervalTimetable): the interval is the day
    (("2026-11-25T00:00:00+00:00", "2026-11-26T00:00:00+00:00"), "2026-11-25T00:00:00+00:00", None, "2026-11-25"),
    # a manual run with an explicit interval audits exactly that interval
    (("2026-11-20T06:00:00Z", "2026-11-20T18:00:00Z"), None, None, "2026-11-20T0600Z--2026-11-20T1800Z"),
    # a cron trigger at 02:30 (a deployment's own timetable) still audits the previous UTC day
    (("2026-11-26T02:30:00Z", "2026-11-26T02:30:00Z"), "2026-11-26T02:30:00Z", None, "2026-11-25"),
    # Airflow 3 manual run without logical date or interval: the day before run_after
    ((None, None), None, "2026-11-26T13:45:00Z", "2026-11-25"),
])
def test_airflow_run_period(interval, logical_date, run_after, expected):
    since, until = periods.airflow_run_period(*interval, logical_date=logical_date, run_after=run_after)
    assert periods.pack_name(since, until) == expected


def test_airflow_run_period_without_any_time_is_yesterday():
    now = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
    assert periods.airflow_run_period(now=now) == periods.resolve_period(None, now=now)



def test_default_period_is_yesterday_through_the_cli(tmp_path, night):
    """No --since/--until: yesterday (UTC); the synthetic night is older, so the pack is empty but valid."""
    config = setup_config(tmp_path, night)
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    since, until = periods.resolve_period(None)
    assert data["period"]["since"] == f"{since:%Y-%m-%dT%H:%M:%SZ}"
    assert Path(data["pack"]["dir"]).name == f"{since:%Y-%m-%d}"
    assert data["pack"]["pdf"] is None and data["pack"]["verified"] is True


def test_run_stage_is_what_each_dag_task_calls(tmp_path, night):
    """The DAG's four tasks, in order, give the same result as `zsaudit run`; report honours fail_on."""
    from dataclasses import replace

    from zsaudit.errors import FindingsAtOrAbove

    config = load_config(setup_config(tmp_path, night))
    out = {stage: pipeline.run_stage(stage, config, since=night.since, until=night.until)
           for stage in pipeline.STAGES}
    for result in out.values():
        json.dumps(result["json"])                                        # fits in an XCom
    assert out["ingest_zscaler"]["json"]["ingest"]["zscaler"]["files_new"] > 0
    assert out["ingest_airflow"]["json"]["ingest"]["airflow"]["files_new"] > 0
    assert out["analyze"]["json"]["findings"]["open"] > 0
    assert out["report"]["text"].startswith("analyze: ") and "index.html (verified)" in out["report"]["text"]
    assert verify(pack_dir(config.path, night)) == []
    with pytest.raises(FindingsAtOrAbove, match="open findings at or above low"):
        pipeline.run_stage("report", replace(config, fail_on="low"), since=night.since, until=night.until)


def test_a_locked_store_is_reported_as_busy(tmp_path, night):
    """Another process holds the DuckDB file: exit 2 with a clear message (the DAG retries this one)."""
    config = setup_config(tmp_path, night)
    db = load_config(config).db
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('locked', flush=True); time.sleep(60)", str(db)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = CliRunner().invoke(main, ["run", "--config", str(config), *period_args(night)])
        assert result.exit_code == 2
        assert "in use by another process" in result.output and str(db) in result.output
        with pytest.raises(pipeline.StoreBusy):
            pipeline.run_stage("ingest_zscaler", load_config(config), since=night.since, until=night.until)
    finally:
        holder.kill()
        holder.wait()


def test_files_already_in_the_ledger_are_not_read_again(tmp_path, night):
    """The nightly run skips unchanged ledger files without hashing them; a touched or resized
    file goes back to the ingester (which checks its sha256)."""
    import shutil

    zscaler = tmp_path / "zscaler"
    shutil.copytree(night.out_dir / "zscaler", zscaler)
    config = setup_config(tmp_path, night)
    config.write_text(config.read_text().replace(str(night.out_dir / "zscaler"), str(zscaler)))
    run_cli(config, night)
    files = sorted(str(p) for p in zscaler.rglob("*") if p.is_file())
    with Store(load_config(config).db) as store:
        assert pipeline._not_in_ledger(store, [str(zscaler)]) == ([], len(files))
        later = os.stat(files[0]).st_mtime + 3600
        os.utime(files[0], (later, later))                      # rewritten in place, same size
        assert pipeline._not_in_ledger(store, [str(zscaler)]) == ([files[0]], len(files) - 1)
    again = run_cli(config, night, "--json")
    z = json.loads(again.stdout)["ingest"]["zscaler"]
    assert z["files_new"] == 0 and z["files_skipped"] == len(files)   # same sha256: still nothing new


def test_a_file_that_cannot_be_read_does_not_stop_the_night(tmp_path, night):
    """Issue #18: one unreadable Zscaler file (here deep JSON, RecursionError on main before) used
    to stop `run` every night: no Airflow ingest, no analysis, no pack. Now the other files
    load, the run goes on to the pack, and the file is named."""
    import shutil

    feeds = tmp_path / "zscaler"
    shutil.copytree(night.out_dir / "zscaler", feeds)
    shutil.copy(ROOT / "fixtures" / "repro" / "deep_first_1000.json", feeds / "deep.json")
    config = setup_config(tmp_path, night)
    config.write_text(config.read_text().replace(str(night.out_dir / "zscaler"), str(feeds)))
    result = run_cli(config, night)
    assert "deep.json" in result.output and "not ingested" in result.output
    assert (pack_dir(config, night) / "index.html").is_file()
    assert counts(load_config(config).db)["task_attempts"] > 0
