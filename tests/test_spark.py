"""`zsaudit run --engine spark` on a real standalone Spark cluster (master + 2 workers of 1 core
on 127.0.0.1, tests/spark_harness.py): the same night gives the same rows as the single-machine
engine, and a worker killed in the middle of the job changes nothing. `make test-spark`.

The Spark runs are `zsaudit run` invoked in this process (click's runner) on one application for
the module (`app`: zsaudit's own session(), which a run finds running and uses, as in a notebook):
a new application per run started a driver JVM and a JVM per executor first, ~45 s of each run
on this 2-core machine, where the runs themselves take seconds. The single-machine runs, the
reference, stay `zsaudit` processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import threading

import duckdb
import pytest
from click.testing import CliRunner

from s3server import running_with_bucket
from spark_harness import SparkCluster, java_missing
from zsaudit.commands import main
from zsaudit.lake import Lake
from zsaudit.store import Store
from zsaudit.synth import synthesize

pytestmark = pytest.mark.spark

# Rows compared between the engines: everything analysis writes and everything ingest loads,
# without the wall-clock columns (when a file was loaded, when an analysis ran).
COMPARED = {
    "attributions": "request_table, request_rid",
    "findings": "finding_id",
    "not_evaluable": "ALL",
    "zia_web": "rid",
    "zpa_user_activity": "rid",
    "zpa_user_status": "rid",
    "task_attempts": "attempt_id",
    "task_connections": "ALL",
    "task_egress_hints": "ALL",
    "rejects": "ALL",
    "ingest_ledger": "file_id",
}
WALL_CLOCK = {"started_at", "finished_at", "ingested_at", "loaded_at", "analyzed_at"}
ZIA_PARTS = 8
LAKE_BUCKET = "zsaudit-lake"


@pytest.fixture(scope="module")
def s3():
    """An S3-compatible server (moto's) for a lake on object storage; the cluster's executors get
    its endpoint and keys the standard AWS way (their environment), as a cluster's machines would."""
    with running_with_bucket(LAKE_BUCKET) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3):
    why = java_missing()
    if why:
        pytest.skip(why)
    c = SparkCluster(tmp_path_factory.mktemp("spark"), workers=2, cores=1)
    c.env.update(s3.env())
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def spark_app(cluster):
    """One Spark application on the cluster for the module's runs: zsaudit's session(), started
    here (the driver's JVM reads the cluster's SPARK_CONF_DIR), found running by each run."""
    from zsaudit.spark.session import session

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARK_CONF_DIR", str(cluster.conf_dir))
        with session(cluster.url, app="zsaudit-tests") as sc:
            mp.delenv("SPARK_CONF_DIR")
            yield sc


@pytest.fixture
def app(cluster, spark_app):
    """The module's application, on a whole cluster: a worker killed by an earlier test is
    replaced first."""
    cluster.heal()
    return spark_app


def zsaudit_here(*args: str, env: dict | None = None) -> str:
    """`zsaudit <args>` in this process (on the running Spark application); its stdout. `env`:
    variables for this call only."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr[-4000:]}"
    return result.stdout


def login_partition_copy(lines: list[str]) -> str:
    """A copy of the night's blocked request (403: not an authentication refusal; seed 5 has one,
    the evidence of its silent_failure), one second later, from a device and address no [[worker]]
    has: it lands in its login's partition (pk 1000000 + lidx), not its worker's, and is attributed
    to the same attempt, so that attempt's silent_failure spans two partitions."""
    records = [json.loads(line) for line in lines]
    first = next(r for r in records if r["event"]["action"] == "Blocked" and r["event"]["respcode"] == "403")
    event = dict(first["event"])
    moved = datetime.strptime(event["time"], "%a %b %d %H:%M:%S %Y") + timedelta(seconds=1)
    event.update(time=moved.strftime("%a %b %d %H:%M:%S %Y"), cip="10.99.0.7", devicehostname="nat-gw-1.corp.example",
                 recordid=str(max(int(r["event"]["recordid"]) for r in records) + 1))
    return json.dumps({**first, "event": event}) + "\n"


def other_worker_copy(lines: list[str]) -> str:
    """A copy of the first request of the night's token_gap no_session finding (seed 5: svc-reports
    on airflow-worker-1 at 02:33:24, no valid session), two seconds later from airflow-worker-3:
    the gap's requests then sit in two workers' partitions, which job 2 puts in different tasks
    (the three workers are its largest partitions, each to its own group), so only a group stage
    over every task's rows makes it one finding."""
    records = [json.loads(line) for line in lines]
    first = next(r for r in records if r["event"]["login"] == "svc-reports@corp.example"
                 and r["event"]["time"] == "Tue Nov 24 02:33:24 2026")
    event = dict(first["event"])
    event.update(time="Tue Nov 24 02:33:26 2026", cip="10.20.0.13", devicehostname="airflow-worker-3.corp.example",
                 recordid=str(max(int(r["event"]["recordid"]) for r in records) + 1))
    return json.dumps({**first, "event": event}) + "\n"


# An identity-map worker that sends nothing all night, and one attempt on it whose log names a host:
# no request of its worker exists, so no job 2 task holds its partition, and only a group stage
# over the whole attempt side on the driver finds its egress_bypass.
SILENT_WORKER = "airflow-worker-9"
SILENT_ATTEMPT = {"dag_id": "reports_daily", "dag_run_id": "manual__2026-11-24T02:20:00+00:00", "task_id": "archive",
                  "start_date": "2026-11-24T02:20:00.000000Z", "end_date": "2026-11-24T02:21:30.000000Z"}
SILENT_HOST = "archive.partner.example"


def add_silent_worker(out: Path, identity: Path) -> None:
    with identity.open("a") as f:
        f.write(f'\n[[worker]]\nhostname = "{SILENT_WORKER}"\nips = ["10.20.0.19"]\n'
                f'device_hostnames = ["{SILENT_WORKER}.corp.example"]\n')
    tis = out / "airflow" / "task_instances.json"
    doc = json.loads(tis.read_text())
    ti = {**doc["task_instances"][0], **SILENT_ATTEMPT, "id": "5e1e7a11-0000-4000-8000-000000000009",
          "task_display_name": SILENT_ATTEMPT["task_id"], "dag_display_name": SILENT_ATTEMPT["dag_id"],
          "map_index": -1, "rendered_map_index": None, "logical_date": "2026-11-24T02:20:00+00:00",
          "run_after": "2026-11-24T02:20:00+00:00", "duration": 90.0, "state": "success", "try_number": 1,
          "hostname": f"{SILENT_WORKER}.cluster.local"}
    doc["task_instances"].append(ti)
    doc["total_entries"] = len(doc["task_instances"])
    tis.write_text(json.dumps(doc))
    a = SILENT_ATTEMPT
    log = (out / "airflow" / "logs" / f"dag_id={a['dag_id']}" / f"run_id={a['dag_run_id']}" / f"task_id={a['task_id']}"
           / "attempt=1.log")
    log.parent.mkdir(parents=True)
    ctx = {"dag_id": a["dag_id"], "task_id": a["task_id"], "run_id": a["dag_run_id"], "try_number": 1,
           "map_index": -1, "ti_id": ti["id"]}
    lines = [("02:20:01.000000", "::group::Pre Execute", "task", {}),
             ("02:20:20.000000", f"fetched https://{SILENT_HOST}/v1/export status 200", "task.stdout", ctx),
             ("02:21:29.000000", "::endgroup::", "task", ctx)]
    log.write_text("".join(json.dumps({"timestamp": f"2026-11-24T{t}Z", "level": "info", "event": e, **c,
                                       "logger": logger}) + "\n" for t, e, logger, c in lines))


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """The synthetic night, its web log split into several hourly-like files (more ingest tasks),
    plus a request only its login places (login_partition_copy), a token gap's request from a
    second worker (other_worker_copy) and a worker that sends nothing (add_silent_worker)."""
    out = tmp_path_factory.mktemp("night")
    result = synthesize(out, requests=300, seed=5)
    add_silent_worker(out, result.identity_path)
    web = out / "zscaler" / "zia_web.json"
    lines = web.read_text().splitlines(keepends=True)
    lines.append(login_partition_copy(lines))
    lines.append(other_worker_copy(lines))
    step = -(-len(lines) // ZIA_PARTS)
    for i in range(ZIA_PARTS):
        (out / "zscaler" / f"zia_web-{i:02d}.json").write_text("".join(lines[i * step:(i + 1) * step]))
    web.unlink()
    resend_hours(out / "zscaler")
    return result


def resend_hours(folder: Path) -> None:
    """Two resent hours, each record once on either engine: part 02 sent again byte for byte under
    another name (after the first in input order: skipped as already ingested), and part 05's
    records re-exported in reverse order (other bytes, first in input order: it loads them, and
    every record of the original part is a duplicate, other rids: the order decides which)."""
    shutil.copyfile(folder / "zia_web-02.json", folder / "zia_web-02.resent.json")
    part = (folder / "zia_web-05.json").read_text().splitlines(keepends=True)
    (folder / "zia_web-05-resent.json").write_text("".join(reversed(part)))


def write_config(folder: Path, night) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zsaudit.toml"
    path.write_text(f'''db = "zsaudit.duckdb"
identity_map = "{night.identity_path}"
[zscaler]
paths = ["{night.out_dir / 'zscaler'}"]
[airflow]
paths = ["{night.out_dir / 'airflow' / 'logs'}", "{night.out_dir / 'airflow' / 'task_instances.json'}"]
[pack]
out_dir = "packs"
pdf = false
[run]
since = "{night.since.isoformat()}"
until = "{night.until.isoformat()}"
''')
    return path


def zsaudit(*args: str, env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "zsaudit", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err[-4000:]}"
    return out


def rows(db: Path) -> dict:
    store = Store(db, read_only=True)      # a lake on object storage is read through the store's fsspec
    con = store.con
    try:
        out = {}
        for table, order in COMPARED.items():
            cols = [c for c, in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                            "ORDER BY column_index", [table]).fetchall() if c not in WALL_CLOCK]
            listing = ", ".join(cols)
            out[table] = con.execute(f"SELECT {listing} FROM {table} ORDER BY "
                                     f"{listing if order == 'ALL' else order}").fetchall()
        return out
    finally:
        store.close()


@pytest.fixture(scope="module")
def single_machine_db(tmp_path_factory, night) -> Path:
    config = write_config(tmp_path_factory.mktemp("duckdb"), night)
    finish(zsaudit("run", "--config", str(config)))
    return config.parent / "zsaudit.duckdb"


@pytest.fixture(scope="module")
def single_machine(single_machine_db):
    return rows(single_machine_db)


def query(db: Path, sql: str, params: list | None = None) -> list:
    """The rows of one query on the store `db`, opened read-only."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_the_night_has_a_silent_failure_across_a_worker_and_a_login_partition(single_machine_db):
    """What the engines are compared on includes a finding whose requests sit in two partitions
    (a Spark engine grouping the rules per partition would split it)."""
    ((methods,),) = query(
        single_machine_db,
        "SELECT list(DISTINCT split_part(a.method, '+', 1) ORDER BY split_part(a.method, '+', 1)) FROM findings f "
        "JOIN attributions a ON list_contains(f.evidence_ids, a.request_rid) AND a.attempt_id = f.attempt_id "
        "WHERE f.kind = 'silent_failure'")
    assert methods == ["device", "login"]


def test_the_night_has_a_token_gap_across_two_workers(single_machine_db):
    """A token_gap finding whose requests come from two workers' partitions (job 2 tasks): a Spark
    engine grouping token_gap per task would split it into two rows of one finding id."""
    ((workers,),) = query(
        single_machine_db,
        "SELECT list(DISTINCT a.worker ORDER BY a.worker) FROM findings f "
        "JOIN attributions a ON list_contains(f.evidence_ids, a.request_rid) "
        "WHERE f.kind = 'token_gap' AND f.subtype = 'no_session'")
    assert workers == ["airflow-worker-1", "airflow-worker-3"]


def test_the_night_has_an_egress_bypass_of_a_worker_that_sent_nothing(single_machine_db):
    """An egress_bypass on a worker with no request at all (no job 2 task holds it): a Spark
    engine checking attempt hosts only inside its tasks would miss it."""
    found = query(single_machine_db, "SELECT host FROM findings WHERE kind = 'egress_bypass' AND worker = ?",
                  [SILENT_WORKER])
    ((sent,),) = query(single_machine_db, "SELECT count(*) FROM attributions WHERE worker = ?", [SILENT_WORKER])
    assert found == [(SILENT_HOST,)] and sent == 0


def test_the_night_has_a_resent_file_and_resent_records(single_machine_db):
    """What the engines are compared on includes records loaded once from two files (duplicates in
    the ledger) and a file sent twice (one ledger row)."""
    ledger = dict(query(single_machine_db,
                        "SELECT path, rows_duplicate FROM ingest_ledger WHERE source_kind = 'zia_web'"))
    by_name = {Path(p).name: n for p, n in ledger.items()}
    assert "zia_web-02.resent.json" not in by_name and by_name["zia_web-02.json"] == 0
    assert by_name["zia_web-05.json"] > 0 and by_name["zia_web-05-resent.json"] == 0


def assert_same(spark_rows: dict, single: dict) -> None:
    assert spark_rows["attributions"] and spark_rows["findings"], "the night must attribute and find something"
    for table in COMPARED:
        assert len(spark_rows[table]) == len(single[table]), table
        assert spark_rows[table] == single[table], f"{table}: rows differ between the engines"


def test_spark_run_equals_the_single_machine_run_and_reruns_change_nothing(tmp_path, cluster, app, night,
                                                                           single_machine, single_machine_db):
    config = write_config(tmp_path / "spark", night)
    out = zsaudit_here("run", "--config", str(config), "--engine", "spark", "--spark-master", cluster.url)
    assert f"ingest zscaler: {ZIA_PARTS + 3} new files (1 already ingested)" in out
    assert "report:" in out and "(verified)" in out
    assert_same(rows(config.parent / "zsaudit.duckdb"), single_machine)
    lake = Lake.at(config.parent / "zsaudit.duckdb.lake")
    assert len({u.split("_")[0] for u in lake.units("zscaler")}) == ZIA_PARTS + 3 and len(lake.units("airflow")) == 1
    assert (lake.root / "zia_web" / "source=zscaler" / f"day={night.since.date().isoformat()}").is_dir()

    first_parts = lake_parts(config.parent / "zsaudit.duckdb", lake)
    assert evidence(config.parent) == evidence(single_machine_db.parent)

    again = zsaudit_here("run", "--config", str(config), "--engine", "spark", "--spark-master", cluster.url)
    assert f"ingest zscaler: 0 new files ({ZIA_PARTS + 4} already ingested)" in again
    assert "analysis unchanged" in again
    assert_same(rows(config.parent / "zsaudit.duckdb"), single_machine)

    # the night analysed again: its new parts replace the first run's, which are never read again
    # (a view reading both would double every attribution) and are swept by the next analysis
    zsaudit_here("run", "--config", str(config), "--engine", "spark", "--spark-master", cluster.url, "--reanalyze")
    assert_same(rows(config.parent / "zsaudit.duckdb"), single_machine)
    second_parts = lake_parts(config.parent / "zsaudit.duckdb", lake)
    assert not set(first_parts) & set(second_parts)
    on_disk = {p.relative_to(lake.root).as_posix() for p in (lake.root / "attribution_rows").rglob("*.parquet")}
    assert on_disk == set(first_parts) | set(second_parts)
    zsaudit_here("run", "--config", str(config), "--engine", "spark", "--spark-master", cluster.url, "--reanalyze")
    assert_same(rows(config.parent / "zsaudit.duckdb"), single_machine)
    third_parts = lake_parts(config.parent / "zsaudit.duckdb", lake)
    on_disk = {p.relative_to(lake.root).as_posix() for p in (lake.root / "attribution_rows").rglob("*.parquet")}
    assert on_disk == set(second_parts) | set(third_parts)

    # the lake moved (with the store): the next run reads the rows from where it is now
    moved = tmp_path / "moved"
    shutil.copytree(config.parent, moved, ignore=shutil.ignore_patterns("packs"))
    shutil.rmtree(config.parent / "zsaudit.duckdb.lake")
    zsaudit_here("run", "--config", str(moved / "zsaudit.toml"), "--engine", "spark", "--spark-master", cluster.url)
    assert lake_parts(moved / "zsaudit.duckdb", Lake.at(moved / "zsaudit.duckdb.lake")) == third_parts
    assert_same(rows(moved / "zsaudit.duckdb"), single_machine)


def test_a_lake_on_s3_gives_the_same_rows_and_a_fresh_report_reads_it(tmp_path, cluster, app, s3, night,
                                                                      single_machine, single_machine_db, monkeypatch):
    """engine.lake = "s3://...": the executors write the lake to the S3 server (each object to its
    final key), the driver loads it and keeps the attribution parts there; the rows equal the
    single-machine run's, and `zsaudit report` in a fresh process reads the attributions from S3."""
    config = write_config(tmp_path / "spark", night)
    config.write_text(config.read_text() + f'[engine]\nlake = "s3://{LAKE_BUCKET}/nights/"\n')
    out = zsaudit_here("run", "--config", str(config), "--engine", "spark", "--spark-master", cluster.url,
                       env=s3.env())
    assert "report:" in out and "(verified)" in out
    assert not (config.parent / "zsaudit.duckdb.lake").exists()
    for key, value in s3.env().items():        # this process reads the store's view through fsspec too
        monkeypatch.setenv(key, value)
    db = config.parent / "zsaudit.duckdb"
    assert_same(rows(db), single_machine)
    listed = s3.client().list_objects_v2(Bucket=LAKE_BUCKET, Prefix="nights/").get("Contents", [])
    keys = [o["Key"] for o in listed]
    lake = Lake.at(f"s3://{LAKE_BUCKET}/nights")
    assert len({u.split("_")[0] for u in lake.units("zscaler")}) == ZIA_PARTS + 3 and len(lake.units("airflow")) == 1
    assert f"nights/zia_web/source=zscaler/day={night.since.date().isoformat()}/" in "\n".join(keys)
    assert not [k for k in keys if k.startswith(("nights/_work/", "nights/_tmp/"))]
    named = query(db, "SELECT DISTINCT lake FROM attribution_parts")
    assert named == [(f"s3://{LAKE_BUCKET}/nights",)]
    assert all(f"nights/{p}" in keys for p, in query(db, "SELECT part FROM attribution_parts"))

    report = finish(zsaudit("report", "--db", str(db), "--out", str(tmp_path / "pack"), "--no-pdf",
                            "--since", night.since.isoformat(), "--until", night.until.isoformat(), env=s3.env()))
    assert "manifest" in report
    (single_pack,) = (single_machine_db.parent / "packs").iterdir()
    for name in ("attributed_requests", "findings", "not_evaluable"):
        assert (tmp_path / "pack" / "evidence" / f"{name}.csv").read_bytes() == \
            (single_pack / "evidence" / f"{name}.csv").read_bytes(), name


def evidence(folder: Path) -> dict[str, bytes]:
    """The pack's evidence files that read attributions and findings, byte for byte (the ledger's
    carries load times)."""
    (pack,) = (folder / "packs").iterdir()
    return {name: (pack / "evidence" / f"{name}.csv").read_bytes()
            for name in ("attributed_requests", "findings", "not_evaluable", "task_attempts")}


def lake_parts(db: Path, lake: Lake) -> list[str]:
    """The lake parts of attribution rows the store names: all of one analysis, below this lake,
    and no attribution row of the Spark engine stored in the store itself."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        named = con.execute("SELECT DISTINCT analysis_id, lake, part FROM attribution_parts ORDER BY part").fetchall()
        in_store = con.execute("SELECT count(*) FROM attribution_rows").fetchone()[0]
        analyses = con.execute("SELECT DISTINCT analysis_id FROM attributions").fetchall()
    finally:
        con.close()
    assert in_store == 0 and len(analyses) == 1
    assert named and {(a, root) for a, root, _ in named} == {(analyses[0][0], str(lake.root))}
    assert all(part.startswith(f"attribution_rows/analysis={analyses[0][0]}/part-") for _, _, part in named)
    return [part for _, _, part in named]


def test_backfill_on_spark_builds_the_same_chained_nights(tmp_path_factory, cluster, app):
    """`run --since/--until` over two nights on the Spark engine: each night built in order, the
    same rows as the single-machine backfill, and a chain that verifies (issue #16 on issue #17's engine)."""
    from datetime import date, timedelta

    first = date(2026, 8, 3)
    names = [(first + timedelta(days=i)).isoformat() for i in range(2)]
    inputs = tmp_path_factory.mktemp("nights")
    for i, name in enumerate(names):
        synthesize(inputs / name, requests=120, seed=40 + i, day=first + timedelta(days=i))

    def config(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        zscaler = ", ".join(json.dumps(str(inputs / n / "zscaler")) for n in names)
        airflow = ", ".join(json.dumps(str(inputs / n / "airflow" / p)) for n in names
                            for p in ("logs", "task_instances.json"))
        path = folder / "zsaudit.toml"
        path.write_text(f'db = "zsaudit.duckdb"\nidentity_map = {json.dumps(str(inputs / names[0] / "identity.toml"))}\n'
                        f"[zscaler]\npaths = [{zscaler}]\n[airflow]\npaths = [{airflow}]\n"
                        '[pack]\nout_dir = "packs"\npdf = false\n[run]\nfail_on = "none"\n')
        return path

    until = (first + timedelta(days=2)).isoformat()
    backfill = ["--since", names[0], "--until", until]
    single = config(tmp_path_factory.mktemp("single"))
    finish(zsaudit("run", "--config", str(single), *backfill))
    spark = config(tmp_path_factory.mktemp("spark-backfill"))
    out = zsaudit_here("run", "--config", str(spark), *backfill, "--engine", "spark", "--spark-master", cluster.url)
    for name in names:
        assert f"night {name}: built" in out
    assert "backfill: 2 nights built, 0 already complete, 0 not built" in out
    assert_same(rows(spark.parent / "zsaudit.duckdb"), rows(single.parent / "zsaudit.duckdb"))
    verified = finish(zsaudit("verify", "--chain", str(spark.parent / "packs")))
    assert "chain intact: 2 nights" in verified


def test_a_worker_killed_mid_job_changes_nothing(tmp_path, cluster, app, night, single_machine):
    """One of the two workers (and its executor) is killed while the ingest job runs: Spark runs
    its tasks again on the other, the lake holds each file once, the result is the same. (Last in
    the module: the next test would wait for a new worker, cluster.heal.)"""
    config = write_config(tmp_path / "spark", night)
    ledger = config.parent / "zsaudit.duckdb.lake" / "ingest_ledger"
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["out"] = zsaudit_here("run", "--config", str(config), "--spark-master", cluster.url)
        except BaseException as exc:      # noqa: BLE001  re-raised in the test's thread
            outcome["error"] = exc

    job = threading.Thread(target=run)
    job.start()
    killed = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and job.is_alive():
        if len(list(ledger.glob("source=*/part-*.parquet"))) >= 1:
            killed = cluster.kill_worker(1)
            break
        time.sleep(0.05)
    done_at_kill = len(list(ledger.glob("source=*/part-*.parquet")))
    job.join(timeout=600)
    assert not job.is_alive(), "the run did not end"
    if "error" in outcome:
        raise outcome["error"]
    assert killed, "the job ended before a worker could be killed"
    assert done_at_kill < ZIA_PARTS + 4, "the kill came after the ingest job"
    assert_same(rows(config.parent / "zsaudit.duckdb"), single_machine)
    con = duckdb.connect(str(config.parent / "zsaudit.duckdb"), read_only=True)
    dupes = con.execute("SELECT count(*) - count(DISTINCT rid) FROM zia_web").fetchone()[0]
    loaded = con.execute("SELECT sum(rows_loaded) FROM ingest_ledger WHERE source_kind = 'zia_web'").fetchone()[0]
    in_table = con.execute("SELECT count(*) FROM zia_web").fetchone()[0]
    con.close()
    assert dupes == 0 and loaded == in_table
