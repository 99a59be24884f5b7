"""Each Zscaler record once, the reject rate, refused files: through `zsaudit ingest zscaler`
(and `zsaudit run`, which reports them but never stops the night for them)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.ingest import nss_writer
from zsaudit.store import Store
from zsaudit.synth import synthesize

from test_ingest_zscaler import T0, WEB_LINE, write

REPRO = "first_line_trunc.json"   # fixtures/zscaler/repro/, from /work/shared/repro (issue 18 item 2)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def rows(db, sql):
    with Store(db, read_only=True) as s:
        return s.con.execute(sql).fetchall()


def ledger(db):
    return rows(db, "SELECT regexp_extract(path, '[^/]+$'), lines_read, rows_loaded, rows_rejected, rows_duplicate, "
                    "status FROM ingest_ledger ORDER BY path")


def zia(n, recordid, second=None):
    """A ZIA web JSON line with a recordid."""
    line = WEB_LINE % (second if second is not None else n % 60, "200", f"agent/{n}")
    return line[:-2] + f',"recordid":"{recordid}"}}}}'


# -- each record once -------------------------------------------------------------------------
def test_resent_zia_records_load_once_and_are_counted_as_duplicates(tmp_path):
    db = tmp_path / "z.duckdb"
    night = write(tmp_path / "night.json", [zia(i, 1000 + i) for i in range(40)])
    # NSS "Duplicate Logs" after an outage: the last 15 records again, in another file, plus one new
    resent = write(tmp_path / "resent.json", [zia(i, 1000 + i) for i in range(25, 40)] + [zia(40, 1040)])
    # inside one file, too: record 1041 twice
    twice = write(tmp_path / "twice.json", [zia(41, 1041), zia(41, 1041)])
    r = cli("ingest", "zscaler", night, resent, twice, "--db", db)
    assert r.exit_code == 0, r.output
    assert "resent.json: zia_web as json: 16 lines read, 1 loaded, 0 rejected, 15 duplicates" in r.output
    assert ledger(db) == [("night.json", 40, 40, 0, 0, "loaded"), ("resent.json", 16, 1, 0, 15, "loaded"),
                          ("twice.json", 2, 1, 0, 1, "loaded")]
    assert rows(db, "SELECT count(*), count(DISTINCT record_id) FROM zia_web") == [(42, 42)]
    # the copy kept is the first one loaded: evidence ids keep pointing at the night's file
    assert rows(db, "SELECT source_file FROM zia_web WHERE record_id = 1030") == [(str(night),)]
    assert rows(db, "SELECT source_line FROM zia_web WHERE record_id = 1041") == [(1,)]


def test_same_recordid_at_another_time_is_another_record(tmp_path):
    db = tmp_path / "z.duckdb"
    f = write(tmp_path / "web.json", [zia(1, 7, second=1), zia(1, 7, second=2)])
    assert cli("ingest", "zscaler", f, "--db", db).exit_code == 0
    assert ledger(db) == [("web.json", 2, 2, 0, 0, "loaded")]


def test_records_without_recordid_are_keyed_by_their_content(tmp_path):
    db = tmp_path / "z.duckdb"
    recs = [{"event_time": T0 + timedelta(seconds=i), "username": "alice@corp.example", "session_id": f"S{i}",
             "session_status": "ZPN_STATUS_AUTHENTICATED"} for i in range(5)]
    nss_writer.write(recs, "zpa_user_status", "json", tmp_path / "status.json")
    nss_writer.write(recs[3:] + [dict(recs[4], session_id="S9")], "zpa_user_status", "json", tmp_path / "again.json")
    web = write(tmp_path / "web.json", [WEB_LINE % (1, "200", "a"), WEB_LINE % (1, "200", "a"),
                                        WEB_LINE % (1, "200", "b")])          # no recordid in this feed
    r = cli("ingest", "zscaler", tmp_path / "status.json", tmp_path / "again.json", web, "--db", db)
    assert r.exit_code == 0, r.output
    assert ledger(db) == [("again.json", 3, 1, 0, 2, "loaded"), ("status.json", 5, 5, 0, 0, "loaded"),
                          ("web.json", 3, 2, 0, 1, "loaded")]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("night"), requests=300, seed=5)


def _audit(tmp_path, night, *extra_zscaler):
    """ingest (+ resent files, each by its own later command) -> analyze -> findings JSON."""
    db = tmp_path / "z.duckdb"
    period = ["--since", night.since.isoformat(), "--until", night.until.isoformat()]
    assert cli("ingest", "zscaler", night.out_dir / "zscaler", "--db", db).exit_code == 0
    for extra in extra_zscaler:
        r = cli("ingest", "zscaler", extra, "--db", db)
        assert r.exit_code == 0, r.output
    assert cli("ingest", "airflow", night.out_dir / "airflow" / "logs",
               night.out_dir / "airflow" / "task_instances.json", "--db", db).exit_code == 0
    r = cli("analyze", "--identity-map", night.identity_path, "--db", db, *period, "-q")
    assert r.exit_code == 0, r.output
    findings = cli("findings", "--db", db, "--format", "json")
    assert findings.exit_code == 0, findings.output
    return db, findings.output


def test_a_resent_last_hour_changes_no_finding_and_no_attribution(tmp_path, night):
    alone_db, alone = _audit(tmp_path / "alone", night)
    lines = (night.out_dir / "zscaler" / "zia_web.json").read_text().splitlines()
    times = [datetime.strptime(re.search(r'"time":"([^"]+)"', ln).group(1), "%a %b %d %H:%M:%S %Y") for ln in lines]
    last_hour = [ln for ln, t in zip(lines, times) if t > max(times) - timedelta(hours=1)]
    assert 10 < len(last_hour) < len(lines)
    resent = write(tmp_path / "zia_web-resent.json", last_hour)
    both_db, both = _audit(tmp_path / "both", night, resent)
    assert json.loads(alone) and both == alone                          # byte-identical findings
    count = "SELECT count(*) FROM attributions"
    assert rows(both_db, count) == rows(alone_db, count)
    assert rows(both_db, "SELECT rows_loaded, rows_duplicate FROM ingest_ledger WHERE path = "
                         f"'{resent}'") == [(0, len(last_hour))]


# -- reject rate --------------------------------------------------------------------------------
def _half_bad(path, good=98, bad=2):
    return write(path, [zia(i, 5000 + i) for i in range(good)] +
                 [WEB_LINE.replace("Tue Nov 24 10:00:%02d 2026", f"not a time {i}") % ("200", "x")
                  for i in range(bad)])


def test_a_file_over_the_reject_rate_exits_2_naming_file_rate_and_reason_and_keeps_everything(tmp_path):
    db = tmp_path / "z.duckdb"
    bad = _half_bad(tmp_path / "bad.json")
    fine = write(tmp_path / "fine.json", [zia(i, 9000 + i) for i in range(10)])
    r = cli("ingest", "zscaler", bad, fine, "--db", db)
    assert r.exit_code == 2, r.output
    message = r.stderr
    assert f"{bad}: 2 of 100 lines rejected (2.0%, over the --max-reject-rate of 1.0%)" in message
    assert 'most frequent reason: event time: unrecognised time "…"' in message
    assert "Traceback" not in r.output
    # the good rows of both files are loaded, every rejected line kept
    assert ledger(db) == [("bad.json", 100, 98, 2, 0, "loaded"), ("fine.json", 10, 10, 0, 0, "loaded")]
    assert rows(db, "SELECT source_line FROM rejects ORDER BY 1") == [(99,), (100,)]
    assert rows(db, "SELECT top_reject_reason FROM ingest_ledger WHERE rows_rejected > 0") == [
        ('event time: unrecognised time "…" (expected NSS time like \'Mon Jun 20 15:29:11 2022\', epoch or ISO 8601)',)]


@pytest.mark.parametrize("rate, code", [("5%", 0), ("0.02", 0), ("1.9%", 2), ("0", 2)])
def test_max_reject_rate_option(tmp_path, rate, code):
    r = cli("ingest", "zscaler", _half_bad(tmp_path / "bad.json"), "--max-reject-rate", rate, "--db", tmp_path / "z")
    assert r.exit_code == code, r.output


@pytest.mark.parametrize("rate", ["lots", "150%", "-1%", "2"])
def test_max_reject_rate_must_be_a_share(tmp_path, rate):
    r = cli("ingest", "zscaler", _half_bad(tmp_path / "bad.json"), "--max-reject-rate", rate, "--db", tmp_path / "z")
    assert r.exit_code == 2 and "--max-reject-rate: expected a share between 0 and 1 such as 0.01 (1%)" in r.stderr
    assert not (tmp_path / "z").exists()                         # refused before anything is read


# -- refused files ------------------------------------------------------------------------------
def test_a_truncated_first_line_is_one_reject_not_a_refused_file(tmp_path, fixtures):
    db = tmp_path / "z.duckdb"
    r = cli("ingest", "zscaler", fixtures / "zscaler" / "repro" / REPRO, "--max-reject-rate", "5%", "--db", db)
    assert r.exit_code == 0, r.output
    assert ledger(db) == [(REPRO, 50, 49, 1, 0, "loaded")]
    assert rows(db, "SELECT source_line, reason LIKE 'invalid JSON%' FROM rejects") == [(1, True)]


def test_a_nul_in_the_first_lines_is_one_reject_not_a_refused_file(tmp_path):
    db = tmp_path / "z.duckdb"
    f = tmp_path / "nul.json"
    lines = [zia(i, 100 + i) for i in range(200)]
    lines[1] = lines[1][:50] + "\x00\x00" + lines[1][50:-1]           # NUL bytes, and the line cut
    write(f, lines)
    r = cli("ingest", "zscaler", f, "--max-reject-rate", "5%", "--db", db)
    assert r.exit_code == 0, r.output
    assert ledger(db) == [("nul.json", 200, 199, 1, 0, "loaded")]
    assert rows(db, "SELECT source_line FROM rejects") == [(2,)]


def test_a_refused_file_is_in_the_ledger_and_the_other_files_load(tmp_path):
    db = tmp_path / "z.duckdb"
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02\x03" * 300)
    fine = write(tmp_path / "fine.json", [zia(i, 9000 + i) for i in range(10)])
    r = cli("ingest", "zscaler", junk, fine, "--db", db)
    assert r.exit_code == 2
    assert f"{junk}: binary content; expected Zscaler log text" in r.stderr
    assert ledger(db) == [("fine.json", 10, 10, 0, 0, "loaded"), ("junk.bin", 0, 0, 0, 0, "refused")]
    assert rows(db, "SELECT note FROM ingest_ledger WHERE status = 'refused'") == [
        ("binary content; expected Zscaler log text (JSON, CSV/TSV, key=value, LEEF, CEF)",)]
    # refused is not "already ingested": given again (say with the right --format), it is tried again
    r = cli("ingest", "zscaler", junk, "--db", db)
    assert r.exit_code == 2 and "already ingested" not in r.output
    assert len(ledger(db)) == 2


def test_run_goes_on_past_refused_files_and_files_over_the_reject_rate(tmp_path, night):
    from test_run import period_args, setup_config

    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for f in (night.out_dir / "zscaler").iterdir():
        (feeds / f.name).write_bytes(f.read_bytes())
    (feeds / "junk.bin").write_bytes(b"\x00\x01\x02\x03" * 300)
    _half_bad(feeds / "bad.json")
    config = setup_config(tmp_path, night)
    config.write_text(config.read_text().replace(str(night.out_dir / "zscaler"), str(feeds)))
    r = CliRunner().invoke(main, ["run", "--config", str(config), *period_args(night), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    z = summary["ingest"]["zscaler"]
    assert (z["files_refused"], z["files_over_reject_rate"]) == (1, 1)
    assert summary["pack"]["verified"]
    assert any("junk.bin: binary content" in w for w in summary["warnings"])
    assert any("bad.json: 2 of 100 lines rejected (2.0%" in w for w in summary["warnings"])


def test_a_batch_that_may_repeat_a_key_is_told_apart_before_1970_too():
    # the within-batch window runs only when the batch may repeat (event_time, record_key)
    import pyarrow as pa

    from zsaudit.ingest.zscaler_write import may_repeat_key

    ts = pa.array([-86_400_000_000, 0, 86_400_000_000], pa.timestamp("us", tz="UTC"))
    keys = pa.array([7, 7, 2**64 - 1], pa.uint64())
    assert not may_repeat_key(pa.table({"event_time": ts, "record_key": keys}))
    repeated = pa.table({"event_time": pa.concat_arrays([ts, ts[:1]]), "record_key": pa.concat_arrays([keys, keys[:1]])})
    assert may_repeat_key(repeated)
