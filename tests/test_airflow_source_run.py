"""Done-when of issue #14: a nightly `zsaudit run` whose config lists only a live Airflow URL and
an s3:// Zscaler prefix gives the same findings as the same night from local files
(`make test-airflow`: the real Airflow API server of tests/airflow_harness.py, moto's S3 server
of tests/s3server.py, both on 127.0.0.1).

The night: the UTC day the test DAG's run ran in the real Airflow (3.x: REST API v2; 2.10: v1)
and a synthetic Zscaler feed of the same day; the identity map names the real worker, so the
Airflow side's hosts, windows and egress hints decide findings too. Local: the feed folder, the
log tree and the metadata DB. Remote: the same feed in a bucket, and the Airflow API URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_harness import run_day
from s3server import S3Server
from zsaudit.store import Store
from zsaudit.synth import synthesize

pytestmark = pytest.mark.airflow

ZSAUDIT = [str(Path(sys.executable).with_name("zsaudit"))]
# The run's findings and those of no run (Zscaler-side). Not the reject-rate coverage_gap: the log
# tree on disk also holds the cut-off logs of `dags test` runs other tests stop on purpose
# (test_airflow_exit_codes.py), which the API does not serve as files.
FINDINGS = ("SELECT finding_id, kind, subtype, severity, event_time, dag_id, run_id, task_id, map_index, "
            "try_number, login, host FROM findings WHERE (run_id IS NULL OR run_id = ?) "
            "AND NOT (kind = 'coverage_gap' AND subtype = 'rejects') ORDER BY finding_id")


def test_run_from_the_airflow_api_and_s3_gives_the_findings_of_local_files(airflow_server, airflow_test_run,
                                                                           tmp_path):
    run = airflow_test_run
    day = run_day(run)      # not the clock now: the suite may cross midnight UTC
    since, until = day.isoformat(), (day + timedelta(days=1)).isoformat()
    night = synthesize(tmp_path / "night", requests=300, seed=5, day=day)
    workers = sorted({t["hostname"] for t in run.tries if t.get("hostname")})
    assert workers, run.tries
    identity = tmp_path / "identity.toml"
    identity.write_text(night.identity_path.read_text() + "".join(
        f'\n[[worker]]\nhostname = "{w}"\n' for w in workers))
    s3 = S3Server().start()
    try:
        s3.upload(night.out_dir / "zscaler", "live-zs", "feeds")
        env = {**os.environ, **s3.env(), "ZSAUDIT_AIRFLOW_USER": "admin", "ZSAUDIT_AIRFLOW_PASSWORD": "zsaudit-test",
               "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        env.pop("ZSAUDIT_AIRFLOW_TOKEN", None)
        findings, outputs = {}, {}
        for name, zscaler, airflow in (
                ("local", [night.out_dir / "zscaler"], [run.logs_dir, run.db_path]),
                ("remote", ["s3://live-zs/feeds/"], [airflow_server.api])):
            folder = tmp_path / name
            folder.mkdir()
            config = folder / "zsaudit.toml"
            quoted = lambda paths: ", ".join(f'"{p}"' for p in paths)  # noqa: E731
            config.write_text(f'db = "store.duckdb"\nidentity_map = "{identity}"\n'
                              f"[zscaler]\npaths = [{quoted(zscaler)}]\n"
                              f"[airflow]\npaths = [{quoted(airflow)}]\n"
                              '[pack]\npdf = false\n[run]\nfail_on = "none"\n')
            out = subprocess.run([*ZSAUDIT, "run", "--config", str(config), "--since", since, "--until", until],
                                 env=env, capture_output=True, text=True, timeout=600, cwd=folder)
            assert out.returncode == 0, out.stdout + out.stderr
            outputs[name] = out.stdout
            with Store(folder / "store.duckdb", read_only=True) as s:
                findings[name] = s.con.execute(FINDINGS, [run.run_id]).fetchall()
                if name == "remote":
                    sources = {r[0] for r in s.con.execute(
                        "SELECT DISTINCT source_kind FROM ingest_ledger").fetchall()}
                    paths = [r[0] for r in s.con.execute(
                        "SELECT path FROM ingest_ledger WHERE source_kind LIKE 'zia%' OR source_kind LIKE 'zpa%'")
                        .fetchall()]
    finally:
        s3.stop()
    assert "airflow_rest_api" in sources and paths and all(p.startswith("s3://live-zs/feeds/") for p in paths)
    assert findings["remote"] == findings["local"], (outputs["local"], outputs["remote"])
    kinds = {f[1] for f in findings["local"]}
    assert len(findings["local"]) > 3 and len(kinds) >= 2, findings["local"]
