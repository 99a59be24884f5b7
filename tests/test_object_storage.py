"""Both ingesters and `zsaudit run` reading s3:// from a real S3-compatible server (moto's
standalone server, a subprocess on 127.0.0.1; tests/s3server.py), through the CLI as a user runs it:
same rows as from local files, the object URL in the ledger, a re-run is a no-op, and a server
killed mid-ingest loses nothing and loads nothing twice once the re-run completes.

Every command that reads object storage is a real `zsaudit` process; the local runs they are
compared with are the same commands in this process (CliRunner: an interpreter start and its
imports fewer each)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import emulators
from s3server import S3Server
from zsaudit.cli import main
from zsaudit.store import Store
from zsaudit.synth import synthesize

ZSAUDIT = [str(Path(sys.executable).with_name("zsaudit"))]     # the console script, as a user runs it
ROWS = "SELECT source_file, source_line, rid FROM zia_web ORDER BY rid"


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    out = tmp_path_factory.mktemp("night")
    return synthesize(out, requests=400, seed=11)


@pytest.fixture(scope="module")
def s3():
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


def cli(*args, env: dict, ok=(0,)) -> subprocess.CompletedProcess:
    result = subprocess.run([*ZSAUDIT, *args], env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode in ok, result.stdout + result.stderr
    return result


def local(*args) -> str:
    """A command on local files, in this process: the baseline a remote read is compared with."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def query(db: Path, sql: str) -> list[tuple]:
    with Store(db, read_only=True) as s:
        return s.con.execute(sql).fetchall()


def split_feed(src: Path, out: Path, parts: int) -> Path:
    """The ZIA web feed cut into `parts` files, every other one gzip'd (as feeds land in buckets)."""
    lines = src.read_bytes().splitlines(keepends=True)
    out.mkdir(parents=True, exist_ok=True)
    step = -(-len(lines) // parts)
    for i in range(parts):
        body = b"".join(lines[i * step:(i + 1) * step])
        if i % 2:
            (out / f"zia_web-{i:03}.json.gz").write_bytes(gzip.compress(body, mtime=0))
        else:
            (out / f"zia_web-{i:03}.json").write_bytes(body)
    return out


def test_zscaler_feed_from_s3_loads_like_local_files(tmp_path, night, s3):
    feed = split_feed(night.out_dir / "zscaler" / "zia_web.json", tmp_path / "feed", 4)
    s3.upload(feed, "zscaler-a", "nss/web")
    local_db, s3_db = tmp_path / "local.duckdb", tmp_path / "s3.duckdb"
    local("ingest", "zscaler", feed, "--db", local_db)
    first = cli("ingest", "zscaler", "s3://zscaler-a/nss/web/", "--db", str(s3_db), env=s3.env())
    assert "s3://zscaler-a/nss/web/zia_web-001.json.gz: zia_web as json" in first.stdout

    local_rows = query(local_db, ROWS)
    s3_rows = query(s3_db, ROWS)
    assert len(s3_rows) == len(local_rows) > 300
    assert [r[1:] for r in s3_rows] == [r[1:] for r in local_rows]        # same lines, same evidence ids
    assert {r[0] for r in s3_rows} == {f"s3://zscaler-a/nss/web/{p.name}" for p in feed.iterdir()}
    assert sorted(query(s3_db, "SELECT path, sha256 FROM ingest_ledger")) == sorted(
        (f"s3://zscaler-a/nss/web/{p}", sha) for p, sha in
        ((Path(path).name, sha) for path, sha in query(local_db, "SELECT path, sha256 FROM ingest_ledger")))

    again = cli("ingest", "zscaler", "s3://zscaler-a/nss/web/*.gz", "--db", str(s3_db), env=s3.env())
    assert again.stdout.count("already ingested") == 2
    assert query(s3_db, "SELECT count(*) FROM zia_web") == [(len(local_rows),)]


def test_missing_prefix_and_unreachable_server_are_plain_errors(tmp_path, s3):
    db = str(tmp_path / "x.duckdb")
    missing = cli("ingest", "zscaler", "s3://zscaler-none/nss/", "--db", db, env=s3.env(), ok=(2,))
    assert "s3://zscaler-none/nss/: no such object or prefix" in missing.stderr
    down = {**s3.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}      # nothing listens there
    gone = cli("ingest", "airflow", "s3://zscaler-a/logs/", "--db", db, env=down, ok=(2,))
    assert "s3://zscaler-a/logs/: cannot list" in gone.stderr and "AWS_ENDPOINT_URL" in gone.stderr
    assert "Traceback" not in gone.stderr


def test_airflow_log_tree_from_s3_gives_the_same_attempts(tmp_path, night, s3):
    s3.upload(night.out_dir / "airflow" / "logs", "airflow-logs", "prod")
    local_db, s3_db = tmp_path / "local.duckdb", tmp_path / "s3.duckdb"
    local("ingest", "airflow", night.out_dir / "airflow" / "logs", "--db", local_db)
    cli("ingest", "airflow", "s3://airflow-logs/prod", "--db", str(s3_db), env=s3.env())
    attempts = ("SELECT dag_id, run_id, task_id, map_index, try_number, start_time, end_time, state "
                "FROM task_attempts ORDER BY ALL")
    assert query(s3_db, attempts) == query(local_db, attempts) and len(query(local_db, attempts)) > 50
    egress = "SELECT dag_id, run_id, task_id, map_index, try_number, event_time, url FROM task_egress_hints ORDER BY ALL"
    assert query(s3_db, egress) == query(local_db, egress)
    files = query(s3_db, "SELECT DISTINCT log_file FROM task_attempts")
    assert all(f.startswith("s3://airflow-logs/prod/dag_id=") for (f,) in files)
    # a second read of a log tree in a bucket loads nothing: the nightly run's re-run below checks
    # it for s3, gs and az (every log listed, matched in the ledger, none read again)


@pytest.mark.slow
def test_server_killed_mid_ingest_then_rerun_loses_nothing_and_loads_nothing_twice(tmp_path, night):
    # 12 objects: the kill comes at the third, with most of the night still to read (each
    # object costs a file's ingest three times over: local, killed, rerun)
    feed = split_feed(night.out_dir / "zscaler" / "zia_web.json", tmp_path / "feed", 12)
    local_db, s3_db = tmp_path / "local.duckdb", tmp_path / "s3.duckdb"
    local("ingest", "zscaler", feed, "--db", local_db)
    server = S3Server().start()
    try:
        server.upload(feed, "zscaler-k", "web")
        proc = subprocess.Popen([*ZSAUDIT, "ingest", "zscaler", "s3://zscaler-k/web/", "--db", str(s3_db)],
                                env={**os.environ, **server.env()}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        output = []
        for line in proc.stdout:                   # plain progress off a TTY: one line per file done
            output.append(line)
            if line.startswith("ingest zscaler: 3/12 files"):
                server.kill()
                break
        output.extend(proc.stdout)
        assert proc.wait(timeout=300) == 2, "".join(output)
        text = "".join(output)
        assert "s3://zscaler-k/web/" in text and "cannot read" in text and "Traceback" not in text
        loaded = query(s3_db, "SELECT count(*) FROM ingest_ledger")[0][0]
        assert 3 <= loaded < 12
        assert query(s3_db, "SELECT count(*) FROM zia_web WHERE file_id NOT IN "
                            "(SELECT file_id FROM ingest_ledger)") == [(0,)]   # no partial object

        server.start()                             # the store is back (moto keeps it in memory:
        server.upload(feed, "zscaler-k", "web")    # put the same objects back)
        cli("ingest", "zscaler", "s3://zscaler-k/web/", "--db", str(s3_db), env=server.env())
    finally:
        server.stop()
    assert [r[1:] for r in query(s3_db, ROWS)] == [r[1:] for r in query(local_db, ROWS)]
    assert query(s3_db, "SELECT count(*), count(DISTINCT sha256) FROM ingest_ledger") == [(12, 12)]
    assert query(s3_db, "SELECT count(*) - count(DISTINCT rid) FROM zia_web") == [(0,)]


@pytest.fixture(params=["s3", "gs", "az"])
def store_server(request):
    """s3: moto (module-wide); gs: fake-gcs-server; az: Azurite (tests/emulators.py), each real."""
    if request.param == "s3":
        yield "s3", request.getfixturevalue("s3")
        return
    with emulators.running(request.param) as server:
        yield request.param, server


FINDINGS = ("SELECT finding_id, kind, severity, event_time, dag_id, run_id, task_id, login, host FROM findings "
            "ORDER BY finding_id")
ATTEMPTS = ("SELECT dag_id, run_id, task_id, map_index, try_number, start_time, end_time, state "
            "FROM task_attempts ORDER BY ALL")
EGRESS = "SELECT dag_id, run_id, task_id, map_index, try_number, event_time, url FROM task_egress_hints ORDER BY ALL"


def run_night(folder: Path, night, zs, logs, env: dict | None) -> subprocess.CompletedProcess | str:
    """`zsaudit run` of the night in a folder of its own, Zscaler feeds and task logs from zs and logs:
    a process with `env`; with env None, local files, in this process (its output)."""
    folder.mkdir()
    config = folder / "zsaudit.toml"
    config.write_text(
        f'db = "store.duckdb"\nidentity_map = "{night.identity_path}"\n'
        f'[zscaler]\npaths = ["{zs}"]\n'
        f'[airflow]\npaths = ["{logs}", "{night.out_dir / "airflow" / "task_instances.json"}"]\n'
        '[pack]\npdf = false\n')
    period = ["--since", night.since.isoformat(), "--until", night.until.isoformat()]
    if env is None:
        return local("run", "--config", config, *period)
    return cli("run", "--config", str(config), *period, env=env)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, night):
    """The night run from local files: its findings, task attempts and egress hints are what each
    object store's run must equal (the same for s3, gs and az, so run once)."""
    folder = tmp_path_factory.mktemp("local") / "local"
    run_night(folder, night, night.out_dir / "zscaler", night.out_dir / "airflow" / "logs", env=None)
    return {sql: query(folder / "store.duckdb", sql) for sql in (FINDINGS, ATTEMPTS, EGRESS)}


@pytest.mark.slow
def test_nightly_run_from_object_storage_gives_the_same_findings_as_from_local_files(tmp_path, night, store_server,
                                                                                     local_run):
    """Done-when of issue 14 (object-storage side), for s3://, gs:// and az:// against real
    servers: the Zscaler source is a prefix and the task logs a log tree in a bucket (the live-API
    side: tests/test_airflow_source_run.py); the REST export of task instances stays a local file."""
    scheme, server = store_server
    server.upload(night.out_dir / "zscaler", "night-zs", "feeds")
    server.upload(night.out_dir / "airflow" / "logs", "night-af", "logs")
    folder = tmp_path / "remote"
    out = run_night(folder, night, f"{scheme}://night-zs/feeds/", f"{scheme}://night-af/logs/", env=server.env())
    assert out.returncode == 0
    again = cli("run", "--config", str(folder / "zsaudit.toml"), "--since", night.since.isoformat(),
                "--until", night.until.isoformat(), env=server.env())
    assert "ingest zscaler: 0 new files" in again.stdout, again.stdout     # listed, not re-read
    logs = sum(1 for p in (night.out_dir / "airflow" / "logs").rglob("*") if p.is_file())
    assert f"ingest airflow: 0 new files ({logs + 1} already ingested)" in again.stdout, again.stdout
    assert "analysis unchanged" in again.stdout
    urls = query(folder / "store.duckdb", "SELECT path FROM ingest_ledger WHERE path LIKE '%zia_web%'")
    assert urls and all(u.startswith(f"{scheme}://night-zs/feeds/") for (u,) in urls), urls
    files = query(folder / "store.duckdb", "SELECT DISTINCT log_file FROM task_attempts WHERE log_file IS NOT NULL")
    assert len(files) == logs and all(f.startswith(f"{scheme}://night-af/logs/dag_id=") for (f,) in files), files
    for sql in (ATTEMPTS, EGRESS):                       # the log tree read from the bucket as from disk
        assert query(folder / "store.duckdb", sql) == local_run[sql]
    assert query(folder / "store.duckdb", FINDINGS) == local_run[FINDINGS] and len(local_run[FINDINGS]) > 3


def test_file_urls_are_local_paths_and_a_missing_extra_is_named(tmp_path, night):
    db = str(tmp_path / "f.duckdb")
    feed = night.out_dir / "zscaler" / "zia_web.json"
    assert f"{feed}: zia_web as json" in local("ingest", "zscaler", feed.as_uri(), "--db", db)
    for url, extra, package in (("gs://b/zscaler/", "gcs", "gcsfs"), ("az://c/logs/", "azure", "adlfs")):
        try:
            __import__(package)
            continue                                   # the extra is installed here: nothing to say
        except ImportError:
            pass
        missing = cli("ingest", "zscaler", url, "--db", db, env={}, ok=(2,))
        assert f"pip install 'zsaudit[{extra}]'" in missing.stderr
