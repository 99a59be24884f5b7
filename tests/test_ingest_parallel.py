"""A night of Zscaler files ingested by several workers (issue 17 item 1) gives exactly what one
worker gives: rows and evidence ids, rejects, ledger rows, each record once; a failing file
leaves nothing and stops nothing; spools of a killed ingest are swept."""

from __future__ import annotations

import gzip
import shutil

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.errors import BadUsage
from zsaudit.ingest import zscaler, zscaler_spool, zscaler_write
from zsaudit.store import Store

from conftest import FIXTURES
from test_ingest_once import zia
from test_ingest_zscaler import web, write

GOLDEN = FIXTURES / "golden"


def _night(folder):
    """Files of every kind a night may hold, in the order a folder lists them."""
    folder.mkdir()
    for h in range(5):        # hourly files, distinct records: ~9 KiB, 3 batches each in small batches
        write(folder / f"a-web-{h}.json", [zia(i, 10_000 + 100 * h + i) for i in range(40)])
    # NSS resends part of hour 1 in a later file (each record once: the first file keeps it)
    write(folder / "b-resent.json", [zia(i, 10_100 + i) for i in range(30)] + [zia(5, 20_001)])
    shutil.copy(folder / "a-web-2.json", folder / "c-copy-of-web-2.json")      # same content: skipped
    bad = [web(i) for i in range(40)]
    bad[3] = "this is not a record"
    bad[5] = web(5, ua='curl "quoted" agent')                   # unescaped quotes: repaired
    bad[7] = web(7)[:-5]                                        # cut short: rejected with the reason
    bad[9] = web(9, ua="x" * 6000)                              # over --max-line-bytes: cut by the reader
    write(folder / "d-rejects.json", bad)
    (folder / "e-binary.log").write_bytes(b"\x00\x01\x02\x03" * 300)       # refused
    with gzip.open(folder / "f-web.json.gz", "wt") as fh:
        fh.write("\n".join(web(i % 60, ua=f"curl/{i}") for i in range(700)) + "\n")
    for name in ("lss_type__mixed_loadable.json", "splunk_kv__sc4s_zscaler_proxy.log",
                 "siem_export__splunk_csv.csv", "fw_dns_keys__sekoia_dns.json"):
        shutil.copy(GOLDEN / name, folder / f"g-{name}")
    return folder


def _tables(con) -> list[str]:
    return [t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'main' "
        "AND column_name IN ('rid', 'source_file') GROUP BY 1 HAVING count(*) = 2 ORDER BY 1").fetchall()]


def _contents(db, skip: tuple[str, ...] = ()) -> dict:
    """Everything the ingest wrote that does not say when it ran (but the files named in `skip`)."""
    where = "WHERE NOT list_contains($skip, regexp_extract(source_file, '[^/]+$'))"
    with Store(db, read_only=True) as s:
        out = {t: s.con.execute(f"SELECT * FROM {t} {where} ORDER BY rid", {"skip": list(skip)}).fetchall()
               for t in _tables(s.con)}
        out["rejects"] = s.con.execute(
            "SELECT file_id, source_file, source_line, raw, reason, raw_bytes, raw_sha256 FROM rejects "
            f"{where} ORDER BY file_id, source_line", {"skip": list(skip)}).fetchall()
        out["ledger"] = s.con.execute(
            "SELECT * EXCLUDE (started_at, finished_at) FROM ingest_ledger "
            "WHERE NOT list_contains($skip, regexp_extract(path, '[^/]+$')) ORDER BY path",
            {"skip": list(skip)}).fetchall()
        out["inflight"] = s.con.execute("SELECT count(*) FROM ingest_inflight").fetchall()
    return out


def _ingest(db, folder, workers, **kw):
    with Store(db) as store:
        try:
            results = zscaler.ingest_paths(store, [folder], workers=workers, max_line_bytes=4096, **kw)
        except zscaler.IngestErrors as exc:
            results, error = exc.results, exc
        else:
            error = None
    return [r.summary() for r in results], error


def _small_batches(monkeypatch):
    """Many batches per file and chunk commits within files: every seam of the load is crossed."""
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 4 << 10)
    monkeypatch.setattr(zscaler_write, "FLUSH_ROWS", 64)
    monkeypatch.setattr(zscaler_write, "CHUNK_ROWS", 150)


@pytest.fixture
def small_batches(monkeypatch):
    _small_batches(monkeypatch)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """The night and what one worker makes of it in small batches (read only): the load the
    several-worker loads below must equal, ingested once for them all."""
    base = tmp_path_factory.mktemp("one_worker")
    folder = _night(base / "night")
    with pytest.MonkeyPatch.context() as mp:
        _small_batches(mp)
        one, one_error = _ingest(base / "one.duckdb", folder, 1)
    return folder, one, one_error, _contents(base / "one.duckdb")


@pytest.mark.parametrize("workers, memory", [(2, None), (5, None), (3, 24_000)])
def test_workers_load_exactly_what_one_worker_loads(tmp_path, one_worker, small_batches, monkeypatch, workers,
                                                    memory):
    """`memory`: the spools' budget for each worker: staged batches past it wait on disk."""
    folder, one, one_error, a = one_worker
    kept = {"memory": 0, "disk": 0}
    real_add = zscaler_spool.Spool.add

    def add(spool, staged):
        real_add(spool, staged)
        if spool.entries and not isinstance(spool.entries[-1], tuple):
            kept["memory"] += 1
        elif spool.entries and spool.entries[-1][1] is None:
            kept["disk"] += 1

    monkeypatch.setattr(zscaler_spool.Spool, "add", add)
    if memory is not None:
        monkeypatch.setattr(zscaler_spool, "MEMORY_PER_WORKER", memory)
    many, many_error = _ingest(tmp_path / "many.duckdb", folder, workers)
    assert kept["memory"] and (kept["disk"] > 0) == (memory is not None), kept
    assert many == one
    assert str(many_error) == str(one_error) and "e-binary.log: binary content" in str(one_error)
    b = _contents(tmp_path / "many.duckdb")
    assert b == a
    # the night's checks themselves, so that "equal" is not "equally empty"
    summary = "\n".join(one)
    assert "c-copy-of-web-2.json: already ingested" in summary
    assert "b-resent.json: zia_web as json: 31 lines read, 1 loaded, 0 rejected, 30 duplicates" in summary
    rejects = [(line, reason) for _, src, line, _, reason, _, _ in a["rejects"] if src.endswith("d-rejects.json")]
    assert [line for line, _ in rejects] == [4, 8, 10] and "4096" in rejects[2][1]
    assert a["zpa_user_status"] and a["zpa_user_activity"] and a["zia_dns"]
    assert a["inflight"] == [(0,)]
    assert not zscaler_spool.folder(tmp_path / "many.duckdb").exists()


def test_a_file_failing_mid_load_leaves_nothing_and_the_others_load(tmp_path, small_batches, monkeypatch):
    """An internal error in one file's read (the worker's part) and in another's write (the
    writer's, after some of its chunks committed): none of their rows stay, the other files load,
    and the night is what one worker makes of it."""
    folder = _night(tmp_path / "night")
    real_chunks, real_flush = zscaler._chunks, zscaler_write.RecordWriter.flush

    def failing_chunks(fh, label, *args, **kwargs):     # a-web-1.json fails after its first batch
        chunks = real_chunks(fh, label, *args, **kwargs)
        if not label.endswith("a-web-1.json"):
            return chunks

        def fail_after_first():
            yield next(chunks)
            raise RuntimeError("reading fails")
        return fail_after_first()

    def failing_flush(self):                            # f-web.json.gz after two chunk commits
        if self.label.endswith("f-web.json.gz") and self.loaded >= 300:
            raise RuntimeError("writing fails")
        real_flush(self)

    monkeypatch.setattr(zscaler, "_chunks", failing_chunks)
    monkeypatch.setattr(zscaler_write.RecordWriter, "flush", failing_flush)
    one, one_error = _ingest(tmp_path / "one.duckdb", folder, 1)
    many, many_error = _ingest(tmp_path / "many.duckdb", folder, 3)
    assert isinstance(many_error, zscaler.IngestInternalError) and str(many_error) == str(one_error)
    assert "a-web-1.json: not ingested: internal error (RuntimeError: reading fails)" in str(many_error)
    assert "f-web.json.gz: not ingested: internal error (RuntimeError: writing fails)" in str(many_error)
    assert many == one and not any("a-web-1.json" in s or "f-web.json.gz" in s for s in many)
    got = _contents(tmp_path / "many.duckdb")
    assert got == _contents(tmp_path / "one.duckdb")
    assert got == _contents(tmp_path / "many.duckdb", skip=("a-web-1.json", "f-web.json.gz"))   # none of theirs
    assert got["inflight"] == [(0,)]


def test_stale_spools_are_swept_and_none_is_left(tmp_path):
    db = tmp_path / "z.duckdb"
    stale = zscaler_spool.folder(db)
    stale.mkdir(parents=True)
    (stale / "000003.arrow").write_bytes(b"left by kill -9")
    a = write(tmp_path / "a.json", [zia(i, 1000 + i) for i in range(10)])
    b = write(tmp_path / "b.json", [zia(i, 2000 + i) for i in range(10)])
    with Store(db) as store:
        zscaler.ingest_paths(store, [a, b], workers=2)
        assert store.con.execute("SELECT count(*) FROM zia_web").fetchone()[0] == 20
    assert not stale.exists()


def test_the_cli_prints_the_same_with_one_worker_and_with_several(tmp_path, monkeypatch):
    folder = _night(tmp_path / "night")
    out = {}
    for workers in ("1", "3"):
        monkeypatch.setenv("ZSAUDIT_INGEST_WORKERS", workers)
        r = CliRunner().invoke(main, ["ingest", "zscaler", str(folder), "--db", str(tmp_path / f"{workers}.duckdb")])
        assert r.exit_code == 2, r.output
        out[workers] = r.output
    lines = out["1"].splitlines()
    assert out["3"].splitlines() == lines
    n = len(list(folder.iterdir()))
    # progress without a terminal: files done, in order, and the last tenth
    assert [ln for ln in lines if "files" in ln and ln.startswith("ingest zscaler:")] == [
        f"ingest zscaler: {i}/{n} files" for i in range(1, n + 1)]
    assert "ingest zscaler: 100%" in lines


def test_workers_setting(monkeypatch):
    monkeypatch.delenv("ZSAUDIT_INGEST_WORKERS", raising=False)
    import os
    assert zscaler.workers_from_env() == len(os.sched_getaffinity(0))
    assert zscaler.workers_from_env({"ZSAUDIT_INGEST_WORKERS": "3"}) == 3
    for bad in ("0", "two", "-1", "65"):
        with pytest.raises(BadUsage, match="ZSAUDIT_INGEST_WORKERS"):
            zscaler.workers_from_env({"ZSAUDIT_INGEST_WORKERS": bad})


def test_workers_precedence_cli_then_env_then_config_then_cores(monkeypatch):
    from zsaudit.ingest import workers
    import os
    monkeypatch.delenv("ZSAUDIT_INGEST_WORKERS", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert workers.resolve() == cores
    assert workers.resolve(configured=5) == 5
    assert workers.resolve(configured=5, environ={"ZSAUDIT_INGEST_WORKERS": "3"}) == 3
    assert workers.resolve(7, configured=5, environ={"ZSAUDIT_INGEST_WORKERS": "3"}) == 7
    with pytest.raises(BadUsage, match="--workers"):
        workers.resolve(0)


def test_run_takes_workers_from_the_option_env_and_config(tmp_path, monkeypatch):
    """`zsaudit run`: --workers over ZSAUDIT_INGEST_WORKERS over [ingest] workers, for both ingesters."""
    from zsaudit import pipeline
    from zsaudit.ingest import airflow, zscaler as zs

    seen = []
    monkeypatch.setattr(zs, "ingest_paths", lambda *a, workers=None, **k: seen.append(("zscaler", workers)) or [])
    monkeypatch.setattr(airflow, "ingest_paths", lambda *a, workers=None, **k: seen.append(("airflow", workers)) or [])
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "a.log").write_text("x\n")
    (tmp_path / "af").mkdir()
    (tmp_path / "identity.toml").write_text("")
    cfg = tmp_path / "zsaudit.toml"
    cfg.write_text('identity_map = "identity.toml"\n[zscaler]\npaths = ["z"]\n[airflow]\npaths = ["af"]\n'
                   '[ingest]\nworkers = 5\n')
    stages = ("ingest_zscaler", "ingest_airflow")
    from zsaudit.config import load_config
    config = load_config(cfg)
    monkeypatch.delenv("ZSAUDIT_INGEST_WORKERS", raising=False)
    pipeline.run(config, stages=stages)
    monkeypatch.setenv("ZSAUDIT_INGEST_WORKERS", "3")
    pipeline.run(config, stages=stages)
    pipeline.run(config, stages=stages, workers=2)
    assert seen == [("zscaler", 5), ("airflow", 5), ("zscaler", 3), ("airflow", 3), ("zscaler", 2), ("airflow", 2)]


def test_airflow_task_logs_follow_the_workers_setting(tmp_path, monkeypatch):
    """The Airflow task-log ingest runs as many batch workers as the setting says (it had 2 fixed),
    and loads the same attempts whatever their number."""
    from concurrent.futures import ThreadPoolExecutor
    from zsaudit.ingest import airflow, airflow_logs

    pools = []

    class Spy(ThreadPoolExecutor):
        def __init__(self, max_workers=None, **kw):
            pools.append(max_workers)
            super().__init__(max_workers=max_workers, **kw)

    monkeypatch.setattr(airflow_logs, "ThreadPoolExecutor", Spy)
    # three batches from the sample tree's 34 logs: one for each of three workers (a batch costs
    # ~0.2 CPU-s of statements whatever its size; there were nine)
    monkeypatch.setattr(airflow_logs, "BATCH_FILES", 12)
    tree = FIXTURES / "airflow" / "3.3.2" / "logs"
    counts = []
    for n, (env, option) in enumerate((("1", None), ("3", None), ("3", 2))):
        monkeypatch.setenv("ZSAUDIT_INGEST_WORKERS", env)
        with Store(tmp_path / f"{n}.duckdb") as store:
            airflow.ingest_paths(store, [tree], workers=option)
            counts.append(store.con.execute("SELECT count(*) FROM task_attempts").fetchone()[0])
    assert pools == [1, 3, 2]
    assert counts[0] > 0 and len(set(counts)) == 1
