"""Zscaler ingest behaviour: rejects and reconciliation, repair, drift, gzip, stdin, CLI."""

from __future__ import annotations

import gzip
import zlib
import io
import json
import sys
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.errors import BadInput
from zsaudit.ingest import lines, nss_writer, zscaler, zscaler_write

T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=timezone.utc)
WEB_LINE = ('{ "sourcetype" : "zscalernss-web", "event" :{"time":"Tue Nov 24 10:00:%02d 2026","login":"svc@corp.example",'
            '"eurl":"api.example.com/a%%20b","action":"Allowed","respcode":"%s","ua":"%s","cip":"10.0.0.1"}}')


def web(n, code="200", ua="curl/8"):
    return WEB_LINE % (n, code, ua)


def one(store, sql, params=()):
    return store.con.execute(sql, list(params)).fetchone()


def write(path, lines, newline=True):
    path.write_text("\n".join(lines) + ("\n" if newline else ""), encoding="utf-8")
    return path


def test_rejects_keep_line_and_reason_and_counts_reconcile(store, tmp_path):
    f = write(tmp_path / "web.log", [
        web(1),
        web(2, code="abc"),                                         # bad int
        '{ "sourcetype" : "zscalernss-web", "event" :{"time":"yesterday","login":"x"}}',   # bad time
        "",                                                         # blank: not a record
        '{"time": "Tue Nov 24 10:00:04 2026", "login": ',           # truncated JSON
        web(5, ua='Mozilla/5.0 "compatible" X'),                    # unescaped quotes: repaired
    ])
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (5, 2, 3)
    assert r.lines_read == r.rows_loaded + r.rows_rejected
    assert any("repaired" in w for w in r.warnings)
    rejects = store.con.execute("SELECT source_line, reason, raw FROM rejects ORDER BY source_line").fetchall()
    assert [x[0] for x in rejects] == [2, 3, 5]
    assert rejects[0][1] == 'response_code: expected an integer, got "abc"'
    assert rejects[1][1].startswith('event time: unrecognised time "yesterday"')
    assert rejects[2][1].startswith("invalid JSON")
    assert rejects[2][2] == '{"time": "Tue Nov 24 10:00:04 2026", "login": '
    ua = one(store, "SELECT user_agent FROM zia_web WHERE source_line = 6")[0]
    assert ua == 'Mozilla/5.0 "compatible" X'
    led = one(store, "SELECT lines_read, rows_loaded, rows_rejected, source_kind, format, path FROM ingest_ledger")
    assert led == (5, 2, 3, "zia_web", "json", str(f))


def test_same_file_twice_is_skipped(store, tmp_path):
    f = write(tmp_path / "web.log", [web(1), web(2)])
    (first,) = zscaler.ingest_paths(store, [f])
    copy = tmp_path / "copy.log"
    copy.write_bytes(f.read_bytes())
    (again,) = zscaler.ingest_paths(store, [copy])
    assert not first.skipped and again.skipped
    assert "already ingested" in again.summary()
    assert one(store, "SELECT count(*) FROM zia_web")[0] == 2
    assert one(store, "SELECT count(*) FROM ingest_ledger")[0] == 1


def test_gzip_and_directories_recursive(store, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    with gzip.open(tmp_path / "a" / "b" / "web.log.gz", "wt") as fh:
        fh.write(web(1) + "\n" + web(2) + "\n")
    nss_writer.write([{"event_time": T0, "username": "alice@corp.example", "session_id": "S1",
                       "session_status": "ZPN_STATUS_AUTHENTICATED"}], "zpa_user_status", "json",
                     tmp_path / "a" / "status.json")
    results = zscaler.ingest_paths(store, [tmp_path / "a"])
    assert sorted(r.source_kind for r in results) == ["zia_web", "zpa_user_status"]
    assert one(store, "SELECT count(*), min(url) FROM zia_web") == (2, "api.example.com/a b")
    assert one(store, "SELECT username FROM zpa_user_status")[0] == "alice@corp.example"


def test_stdin(store, monkeypatch):
    data = (web(1) + "\n" + web(2) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    (r,) = zscaler.ingest_paths(store, ["-"])
    assert (r.path, r.rows_loaded) == ("<stdin>", 2)
    assert one(store, "SELECT source_file, source_line FROM zia_web ORDER BY source_line DESC") == ("<stdin>", 2)


def test_unrecognisable_file_is_bad_input_and_leaves_nothing(store, tmp_path):
    f = write(tmp_path / "notes.txt", ["hello there", "nothing to see"])
    with pytest.raises(BadInput, match=r"notes.txt: line 1: cannot tell the feed format apart"):
        zscaler.ingest_paths(store, [f])
    g = tmp_path / "bin.log"
    g.write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(BadInput, match="bin.log: binary content"):
        zscaler.ingest_paths(store, [g])
    # nothing loaded, but each refused file is in the ledger with its reason (the pack lists it)
    assert store.con.execute("SELECT path, status, lines_read, note FROM ingest_ledger ORDER BY path").fetchall() == [
        (str(g), "refused", 0, "binary content; expected Zscaler log text (JSON, CSV/TSV, key=value, LEEF, CEF)"),
        (str(f), "refused", 0, "line 1: cannot tell the feed format apart; expected NSS/LSS JSON, CSV/TSV (with "
                               "a header, or pass --fields), key=value, LEEF or CEF; got 'hello there'"),
    ]
    assert one(store, "SELECT count(*) FROM rejects")[0] == 0


@pytest.mark.parametrize("batch_bytes", [16 << 20, 64 << 10])    # one batch; many, on the stage threads
@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_cut_off_gzip_keeps_what_decoded_and_rejects_the_tail(store, tmp_path, monkeypatch, batch_bytes, cut):
    """A .gz cut off in transfer (issue #18): every whole line that decoded loads, the line the
    cut went through is one reject saying so, and the books balance."""
    monkeypatch.setattr(zscaler, "BATCH_BYTES", batch_bytes)
    monkeypatch.setattr(zscaler_write, "FLUSH_ROWS", 500)
    monkeypatch.setattr(zscaler_write, "CHUNK_ROWS", 1000)             # and some rows already committed
    good = gzip.compress(("\n".join(web(i % 60, ua=f"curl/{i}") for i in range(5000)) + "\n").encode())
    f = tmp_path / "cut.log.gz"
    f.write_bytes(good[: int(len(good) * cut)])                   # truncated archive
    decoded = zlib.decompressobj(31).decompress(f.read_bytes())
    whole_lines = decoded.count(b"\n")
    r = zscaler.ingest_file(store, f)
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (whole_lines + 1, whole_lines, 1)
    assert one(store, "SELECT count(*), min(source_line), max(source_line) FROM zia_web") == (whole_lines, 1, whole_lines)
    line, reason, raw_bytes = one(store, "SELECT source_line, reason, raw_bytes FROM rejects")
    assert line == whole_lines + 1 and "cut off" in reason and raw_bytes == len(decoded) - decoded.rfind(b"\n") - 1
    assert one(store, "SELECT status, rows_loaded, rows_rejected FROM ingest_ledger") == ("loaded", whole_lines, 1)


def test_corrupt_gzip_keeps_what_decoded(store, tmp_path):
    """Corrupt deflate data mid-file: the lines before it load, the rest is one reject naming it."""
    body = ("\n".join(web(i % 60, ua=f"curl/{i}") for i in range(2000)) + "\n").encode()
    data = bytearray(gzip.compress(body))
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64            # garbage in the deflate stream
    f = tmp_path / "corrupt.log.gz"
    f.write_bytes(bytes(data))
    r = zscaler.ingest_file(store, f)
    assert 0 < r.rows_loaded < 2000 and r.lines_read == r.rows_loaded + r.rows_rejected + r.rows_duplicate
    # deflate may turn garbage into garbled lines (rejects) before it fails; the last reject says where it broke
    line, reason = store.con.execute("SELECT source_line, reason FROM rejects ORDER BY source_line DESC").fetchone()
    assert line == r.lines_read and "corrupt gzip data" in reason


def test_headerless_csv_with_fields_and_drift(store, tmp_path):
    fields = '"%s{time}","%s{login}","%s{eurl}","%s{action}","%d{respcode}"'
    f = write(tmp_path / "custom.csv", [
        '"Tue Nov 24 10:00:01 2026","alice@corp.example","a.example.com/x%2Cy","Allowed","200"',
        '"Tue Nov 24 10:00:02 2026","bob@corp.example","b.example.com/","Blocked","403","extra"',
    ])
    (r,) = zscaler.ingest_paths(store, [f], fields=fields)
    assert (r.format, r.rows_loaded, r.rows_rejected) == ("csv", 1, 1)
    assert r.drift["found_field_counts"] == {"6": 1} and r.drift["declared_fields"] == 5
    assert any("declared template" in w for w in r.warnings)
    assert one(store, "SELECT url, response_code FROM zia_web") == ("a.example.com/x,y", 200)
    assert one(store, "SELECT reason FROM rejects")[0] == "expected 5 fields, found 6"
    assert json.loads(one(store, "SELECT field_drift FROM ingest_ledger")[0])["lines"] == 1


def test_tz_applies_to_naive_times_only(store, tmp_path):
    f = write(tmp_path / "web.log", [web(1)])
    zscaler.ingest_paths(store, [f], tz="America/New_York")
    assert one(store, "SELECT event_time FROM zia_web")[0] == datetime(2026, 11, 24, 15, 0, 1, tzinfo=timezone.utc)
    g = write(tmp_path / "zpa.json", ['{"LogTimestamp":"2026-11-24T10:00:00.500Z","Username":"u","SessionID":"s",'
                                      '"SessionStatus":"ZPN_STATUS_AUTHENTICATED","TimestampAuthentication":"1796032800"}'])
    zscaler.ingest_paths(store, [g], tz="America/New_York")
    assert one(store, "SELECT event_time, authenticated_at FROM zpa_user_status") == (
        datetime(2026, 11, 24, 10, 0, 0, 500000, tzinfo=timezone.utc),
        datetime(2026, 11, 30, 10, 0, 0, tzinfo=timezone.utc))
    with pytest.raises(BadInput, match="--tz: unknown time zone"):
        zscaler.ingest_paths(store, [f], tz="Mars/Olympus")


def test_cef_unescaped_url_and_escaping(store, tmp_path):
    line = ("Nov 24 10:00:01 zscaler-nss CEF:0|Zscaler|NSSWeblog|5.7|Blocked|Not allowed|3|act=Blocked "
            "name=Not allowed src=10.0.0.1 request=evil.example.com/a?x=1&y=b|c suser=svc@corp.example "
            "requestClientApplication=curl/8 (x=1) cs1=Dept \\= one cs1Label=dept rt=Nov 24 2026 10:00:01 "
            "outcome=403 externalId=77")
    f = write(tmp_path / "web.cef", [line])
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.format, r.rows_loaded) == ("cef", 1)
    row = one(store, "SELECT url, login, user_agent, department, response_code, record_id, reason, event_time FROM zia_web")
    assert row == ("evil.example.com/a?x=1&y=b|c", "svc@corp.example", "curl/8 (x=1)", "Dept = one", 403, 77,
                   "Not allowed", datetime(2026, 11, 24, 10, 0, 1, tzinfo=timezone.utc))


def test_base64_and_placeholders(store, tmp_path):
    f = write(tmp_path / "web.log", [
        '{"sourcetype":"zscalernss-web","event":{"epochtime":"1796032800","login":"%s{login}","b64url":'
        '"YXBpLmV4YW1wbGUuY29tL3BhdGg/cT0x","action":"NA","sip":"0.0.0.0","dept":"N/A","ologin":"4094304256"}}'])
    zscaler.ingest_paths(store, [f])
    row = one(store, "SELECT event_time, login, url, action, server_ip, department, extra FROM zia_web")
    assert row[:6] == (datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc), None, "api.example.com/path?q=1",
                       None, None, None)
    assert json.loads(row[6]) == {"ologin": "4094304256"}


def test_kv_drift_is_recorded(store, tmp_path):
    recs = [{"event_time": T0, "login": f"{n}@corp.example", "url": "x.example/"} for n in "abc"]
    f = tmp_path / "web.kv"
    nss_writer.write(recs, "zia_web", "kv", f)
    lines = f.read_text().splitlines()
    lines[2] = lines[2].replace("\tdevicehostname=None", "\tnewfield=1")
    write(f, lines)
    (r,) = zscaler.ingest_paths(store, [f])
    assert r.rows_loaded == 3
    assert r.drift["lines"] == 1 and "devicehostname" in r.drift["missing"] and "newfield" in r.drift["unexpected"]
    assert json.loads(one(store, "SELECT extra FROM zia_web WHERE source_line = 3")[0])["newfield"] == "1"


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_ingest_prints_reconciliation_and_exit_codes(tmp_path):
    db = tmp_path / "cli.duckdb"
    f = write(tmp_path / "web.log", [web(1), web(2, code="oops")])
    runner = CliRunner()
    res = runner.invoke(main, ["ingest", "zscaler", "--db", str(db), "-q", str(f)])
    assert res.exit_code == 2 and "1 of 2 lines rejected (50.0%, over the --max-reject-rate" in res.output
    res = runner.invoke(main, ["ingest", "zscaler", "--db", str(db), str(f)])
    assert res.exit_code == 0 and "already ingested" in res.output
    bad = write(tmp_path / "junk.txt", ["just words"])
    res = runner.invoke(main, ["ingest", "zscaler", "--db", str(db), str(bad)])
    assert res.exit_code == 2
    assert "junk.txt: line 1: cannot tell the feed format apart" in res.output
    res = runner.invoke(main, ["ingest", "zscaler", "--db", str(db), str(tmp_path / "missing.log")])
    assert res.exit_code == 2 and "missing.log: no such file or directory" in res.output


def test_cli_summary_line(tmp_path):
    db = tmp_path / "cli.duckdb"
    f = write(tmp_path / "web.log", [web(1), web(2, code="oops")])
    res = CliRunner().invoke(main, ["ingest", "zscaler", "--db", str(db), "--format", "json",
                                    "--max-reject-rate", "50%", str(f)])
    assert res.exit_code == 0
    assert "zia_web as json: 2 lines read, 1 loaded, 1 rejected" in res.output


def test_json_array_and_syslog_prefixed_json(store, tmp_path):
    arr = tmp_path / "batch.json"
    arr.write_text(json.dumps([json.loads(web(1).split(":", 1)[1].strip()[len('"zscalernss-web", "event" :'):-1]),
                               {"time": "Tue Nov 24 10:00:02 2026", "login": "b@corp.example", "eurl": "x/"}],
                              indent=2))
    (r,) = zscaler.ingest_paths(store, [arr])
    assert (r.source_kind, r.rows_loaded) == ("zia_web", 2)
    assert one(store, "SELECT login, source_line FROM zia_web ORDER BY source_line DESC") == ("b@corp.example", 2)
    sys_ = write(tmp_path / "syslog.log", [
        "Nov 24 10:00:03 zscaler-nss NSS " + web(3),
        "<134>1 2026-11-24T10:00:04Z zscaler-nss NSS - - - event=" + web(4),
    ])
    (r,) = zscaler.ingest_paths(store, [sys_])
    assert (r.format, r.rows_loaded, r.rows_rejected) == ("json", 2, 0)


def test_cli_bad_fields_string_is_exit_2(tmp_path):
    db = tmp_path / "cli.duckdb"
    f = write(tmp_path / "feed.csv", ['"a","b","c"'])
    res = CliRunner().invoke(main, ["ingest", "zscaler", "--db", str(db), "--fields", "time;login", str(f)])
    assert res.exit_code == 2
    assert "--fields: no %s{...} / %d{...} variables" in res.output


def test_zpa_feed_with_two_timestamp_styles(store, tmp_path):
    f = write(tmp_path / "activity.json", [
        '{"LogTimestamp":"Tue Nov 24 10:00:01 2026","Username":"alice@corp.example","SessionID":"S1",'
        '"ConnectionStatus":"open","Host":"db.internal","ServerPort":5432,"TimestampConnectionStart":"2026-11-24T10:00:00.250Z"}',
        '{"LogTimestamp":"2026-11-24T10:00:02Z","Username":"alice@corp.example","SessionID":"S1",'
        '"ConnectionStatus":"close","InternalReason":"BRK_MT_CLOSED_FROM_CLIENT","Host":"db.internal","ServerPort":5432,'
        '"TimestampConnectionEnd":"2026-11-24T10:00:02.000Z"}',
    ])
    zscaler.ingest_paths(store, [f], tz="Europe/Berlin")   # --tz applies to the naive first line only
    got = store.con.execute("SELECT event_time, connection_status, internal_reason, connection_start "
                            "FROM zpa_user_activity ORDER BY source_line").fetchall()
    assert got == [
        (datetime(2026, 11, 24, 9, 0, 1, tzinfo=timezone.utc), "open", None,
         datetime(2026, 11, 24, 10, 0, 0, 250000, tzinfo=timezone.utc)),
        (datetime(2026, 11, 24, 10, 0, 2, tzinfo=timezone.utc), "close", "BRK_MT_CLOSED_FROM_CLIENT", None),
    ]


def test_chunked_large_file_failure_leaves_nothing(store, tmp_path, monkeypatch):
    """Files above CHUNK_ROWS commit in chunks; a failure part-way takes every row back out.
    1,000 lines in ~50 batches of 4 KiB: the failure comes after several chunk commits (each
    batch costs its statements: the smallest file that crosses them is used)."""
    monkeypatch.setattr(zscaler_write, "CHUNK_ROWS", 100)
    monkeypatch.setattr(zscaler_write, "FLUSH_ROWS", 50)
    batch_bytes = zscaler.BATCH_BYTES
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 4096)
    data = gzip.compress(("\n".join(web(i % 60, ua=f"curl/{i}") for i in range(1000)) + "\n").encode())
    f = tmp_path / "big.log.gz"
    f.write_bytes(data)
    real, calls, commits = lines.Gunzip.readinto, [], []
    monkeypatch.setattr(zscaler_write, "_test_kill_point", commits.append)     # told of each chunk commit

    def failing(self, view):                                     # the disk fails near the end
        calls.append(1)
        if len(calls) > 30:
            raise OSError(5, "Input/output error")
        return real(self, view)

    monkeypatch.setattr(lines.Gunzip, "readinto", failing)
    with pytest.raises(BadInput, match="big.log.gz: cannot read after line"):
        zscaler.ingest_paths(store, [f])
    monkeypatch.setattr(lines.Gunzip, "readinto", real)
    monkeypatch.setattr(zscaler, "BATCH_BYTES", batch_bytes)     # the whole file again: its batches do not matter
    assert len(commits) >= 3                                     # rows were committed, then taken out
    assert one(store, "SELECT count(*) FROM zia_web")[0] == 0
    assert one(store, "SELECT status, rows_loaded FROM ingest_ledger") == ("refused", 0)
    whole = tmp_path / "whole.log.gz"
    whole.write_bytes(data)
    (r,) = zscaler.ingest_paths(store, [whole])
    assert r.rows_loaded == 1000 and one(store, "SELECT count(*) FROM zia_web")[0] == 1000


@pytest.mark.parametrize("fmt", ["kv", "cef", "leef"])
def test_lines_with_escapes_or_tokens_are_not_drift(store, tmp_path, fmt):
    # Polars splits template lines; lines with a CEF escape or a '}' (maybe a %s{...} token)
    # take the SQL path: same values, and they are not counted as field drift
    recs = [{"event_time": T0, "login": "a@corp.example", "department": "Ops", "url": "x.example/"},
            {"event_time": T0, "login": "%s{login}", "department": "R=D \\ lab", "url": "x.example/{id}"},
            {"event_time": T0, "login": "c@corp.example", "department": "None", "url": "y.example/"}]
    f = tmp_path / f"web.{fmt}"
    nss_writer.write(recs, "zia_web", fmt, f)
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.rows_loaded, r.rows_rejected, r.drift) == (3, 0, None)
    got = store.con.execute("SELECT login, department, url FROM zia_web ORDER BY source_line").fetchall()
    assert got == [("a@corp.example", "Ops", "x.example/"), (None, "R=D \\ lab", "x.example/{id}"),
                   ("c@corp.example", None, "y.example/")]


def test_invalid_utf8_bytes_become_replacement_characters(store, tmp_path):
    recs = [{"event_time": T0, "login": f"u{i}@corp.example", "url": "x.example/"} for i in range(3)]
    f = tmp_path / "web.kv"
    nss_writer.write(recs, "zia_web", "kv", f)
    data = f.read_bytes().replace(b"u1@corp", b"u\xff\xfe@corp")
    f.write_bytes(data)
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (3, 3, 0)
    logins = [x for (x,) in store.con.execute("SELECT login FROM zia_web ORDER BY source_line").fetchall()]
    assert logins == ["u0@corp.example", "u\ufffd\ufffd@corp.example", "u2@corp.example"]


def test_read_buffers_are_reused_and_a_batch_is_copied_out_before_the_next_read(tmp_path):
    """iter_chunks with ReadBuffers reads every batch into the same buffers (no fresh 16 MiB
    bytearray a batch) and gives the same batches; a batch's decoded lines (what the batch SQL
    reads) are its own copy, unchanged when the buffer is read into again."""
    from zsaudit.ingest.zscaler_batch import decode_lines

    text = b"".join(b"line %d %s\n" % (i, b"x" * (i % 50)) for i in range(2000)) + b"long " * 300 + b"\nend"
    f = tmp_path / "lines.log"
    f.write_bytes(text)
    with open(f, "rb") as fh:
        fresh = [(first, bytes(body) if not isinstance(body, lines.LongLine) else body.length)
                 for first, body in lines.iter_chunks(fh, "lines.log", 4096, max_line_bytes=1024)]
    buffers, seen, decoded = lines.ReadBuffers(1), set(), []
    with open(f, "rb") as fh:
        reused = []
        for first, body in lines.iter_chunks(fh, "lines.log", 4096, max_line_bytes=1024, buffers=buffers):
            if isinstance(body, lines.LongLine):
                reused.append((first, body.length))
                continue
            if isinstance(body, memoryview):
                seen.add(id(body.obj))
            reused.append((first, bytes(body)))
            decoded.append(decode_lines(body))
    assert reused == fresh and len(fresh) > 10 and len(seen) == 1
    assert b"\n".join(b"\n".join(a.to_pylist()[i].encode() for i in range(len(a))) for a in decoded) == \
        b"\n".join(body for _, body in fresh if isinstance(body, bytes))


def test_batches_split_as_read_are_numbered_as_the_counted_ones(tmp_path):
    """iter_chunks with `split` (the ingest's: decode_lines) numbers its batches by their lines'
    count, not by counting newlines: the same first line numbers and lines as without, around a
    line over the cap, after it (its whole lines read with it) and at an end without a newline."""
    from zsaudit.ingest.zscaler_batch import decode_lines

    text = (b"".join(b"line %d %s\n" % (i, b"x" * (i % 50)) for i in range(2000)) + b"long " * 2000
            + b"\na\n\nb\n" + b"".join(b"more %d\n" % i for i in range(500)) + b"end")
    f = tmp_path / "lines.log"
    f.write_bytes(text)

    def batches(**kw):
        with open(f, "rb") as fh:
            return [(first, body.length if isinstance(body, lines.LongLine) else
                     decode_lines(body).to_pylist() if isinstance(body, memoryview | bytes) else body.to_pylist())
                    for first, body in lines.iter_chunks(fh, "lines.log", 4096, max_line_bytes=1024, **kw)]

    counted, split = batches(), batches(split=decode_lines)
    assert split == counted and len(counted) > 10
    assert any(isinstance(b, int) for _, b in counted) and counted[-1][1] == ["end"]
    numbers = [first + i for first, b in counted if isinstance(b, list) for i in range(len(b))]
    assert numbers == sorted(set(numbers)) and numbers[-1] == text.count(b"\n") + 1


@pytest.mark.parametrize("fmt", ["json", "kv", "cef", "csv"])
def test_many_small_batches_load_the_same_as_one(tmp_path, monkeypatch, fmt):
    # a file cut into many batches (staged by two threads, inserted in file order) loads the same
    # rows, line numbers, rejects and drift as the same file in one batch
    from zsaudit.store import Store

    recs = [{"event_time": T0, "login": f"u{i}@corp.example", "url": f"x.example/{i}", "response_code": 200,
             "department": "R=D" if i % 7 == 0 else "Ops"} for i in range(300)]
    f = tmp_path / f"web.{fmt}"
    nss_writer.write(recs, "zia_web", fmt, f)
    lines = f.read_text().splitlines()
    lines[40] = lines[40].replace("u40@", "u40\\u00e9@") if fmt == "json" else lines[40]
    lines.insert(150, "")                                   # blank: not a record
    lines.insert(220, "this is not a record")               # rejected with its line number
    f.write_bytes(("\r\n".join(lines) + "\r\n").encode())

    def load(db, batch_bytes):
        monkeypatch.setattr(zscaler, "BATCH_BYTES", batch_bytes)
        with Store(tmp_path / db) as s:
            (r,) = zscaler.ingest_paths(s, [f])
            rows = s.con.execute("SELECT source_line, rid, login, url, department, response_code "
                                 "FROM zia_web ORDER BY source_line").fetchall()
            rejects = s.con.execute("SELECT source_line, raw FROM rejects ORDER BY source_line").fetchall()
        return (r.lines_read, r.rows_loaded, r.rows_rejected, r.drift), rows, rejects

    one_batch = load("a.duckdb", 16 << 20)
    many = load("b.duckdb", 16 << 10)                      # about 15 batches
    assert many == one_batch
    counts, rows, rejects = many
    assert counts[:3] == (301, 300, 1)
    assert [line for line, _ in rejects] == [221]
    assert rows[0][0] == (2 if fmt == "csv" else 1) and len({r[0] for r in rows}) == 300


def test_progress_moves_within_one_large_file(store, tmp_path, monkeypatch):
    from zsaudit.progress import Progress

    # ~130 records of ~620 bytes: ~10 batches of 8 KiB, a tenth each (each batch costs its statements)
    recs = [{"event_time": T0, "login": f"u{i}@corp.example", "url": f"x.example/{i}"} for i in range(130)]
    f = tmp_path / "web.kv"
    nss_writer.write(recs, "zia_web", "kv", f)
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 8 << 10)
    out = io.StringIO()
    zscaler.ingest_paths(store, [f], progress=Progress(stream=out))
    lines = out.getvalue().splitlines()
    tenths = [ln for ln in lines if ln.endswith("%")]
    assert len(tenths) >= 5 and tenths[-1] == "ingest zscaler: 100%"    # off a TTY: a line per tenth
    assert lines[-1] == "ingest zscaler: 1/1 files"


@pytest.mark.parametrize("fmt", ["kv", "leef"])
def test_keys_first_seen_after_the_sniffed_lines_are_kept_in_extra(store, tmp_path, fmt):
    from zsaudit.ingest.zscaler_sniff import SNIFF_LINES

    recs = [{"event_time": T0, "login": f"u{i}@corp.example", "url": "x.example/"} for i in range(SNIFF_LINES + 50)]
    f = tmp_path / f"web.{fmt}"
    nss_writer.write(recs, "zia_web", fmt, f)
    lines = f.read_text().splitlines()
    lines[SNIFF_LINES + 20] += "\tlatekey=hello\tlatekey=again"
    write(f, lines)
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.rows_loaded, r.rows_rejected) == (SNIFF_LINES + 50, 0)
    assert r.drift["lines"] == 1 and r.drift["unexpected"] == ["latekey"]
    row = one(store, "SELECT login, extra FROM zia_web WHERE source_line = ?", [SNIFF_LINES + 21])
    assert row[0] == f"u{SNIFF_LINES + 20}@corp.example"
    assert json.loads(row[1])["latekey"] == "hello"                # the first of a repeated key


@pytest.mark.parametrize("envelope", [False, True])
def test_json_keys_first_seen_after_the_sniffed_lines_are_kept_in_extra(store, tmp_path, envelope):
    # issue 13 class 7: the plan learns a JSON feed's keys from its first lines; a key seen only
    # later (a template change, an optional field) lands in `extra`, as kv's late keys do
    from zsaudit.ingest.zscaler_sniff import SNIFF_LINES

    def line(i, **more):
        rec = {"time": f"Tue Nov 24 10:{i // 60 % 60:02d}:{i % 60:02d} 2026", "login": f"u{i}@corp.example",
               "eurl": "x.example/a", "action": "Allowed", "respcode": "200", "unmapped": "first", **more}
        return json.dumps({"sourcetype": "zscalernss-web", "event": rec} if envelope else rec)

    late = SNIFF_LINES + 20
    lines = [line(i) for i in range(SNIFF_LINES + 50)]
    lines[late] = line(late, latekey="hello", nested={"a": [1, "b"]}, nothing=None, login2="x\"y")
    lines[late + 1] = line(late + 1, respcode=None)           # a null where the plan has a key: nothing new
    f = write(tmp_path / "web.json", lines)
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.rows_loaded, r.rows_rejected) == (SNIFF_LINES + 50, 0)
    row = one(store, "SELECT login, response_code, extra FROM zia_web WHERE source_line = ?", [late + 1])
    assert row[:2] == (f"u{late}@corp.example", 200)
    assert json.loads(row[2]) == {"unmapped": "first", "latekey": "hello", "nested": '{"a":[1,"b"]}',
                                  "login2": 'x"y'}
    row = one(store, "SELECT response_code, extra FROM zia_web WHERE source_line = ?", [late + 2])
    assert row[0] is None and json.loads(row[1]) == {"unmapped": "first"}
    assert one(store, "SELECT count(*) FROM zia_web WHERE extra <> '{\"unmapped\":\"first\"}'")[0] == 1


def test_the_files_own_time_style_first_and_others_still_read(store, tmp_path):
    # LEEF devTime ("Tue Nov 24 10:00:00 UTC 2026") is tried first once the first lines show it;
    # a line in another style still reads through the general chain
    recs = [{"event_time": T0 + timedelta(seconds=i), "login": f"u{i}@corp.example", "url": "x.example/"}
            for i in range(30)]
    f = tmp_path / "web.leef"
    nss_writer.write(recs, "zia_web", "leef", f)
    lines = f.read_text().splitlines()
    assert "devTime=Tue Nov 24 10:00:05 UTC 2026" in lines[5]
    epoch = int((T0 + timedelta(seconds=5)).timestamp())
    lines[5] = lines[5].replace("devTime=Tue Nov 24 10:00:05 UTC 2026", f"devTime={epoch}")
    write(f, lines)
    (r,) = zscaler.ingest_paths(store, [f], tz="Europe/Berlin")          # --tz: only for naive times
    assert (r.rows_loaded, r.rows_rejected) == (30, 0)
    got = [t for (t,) in store.con.execute("SELECT event_time FROM zia_web ORDER BY source_line").fetchall()]
    assert got == [T0 + timedelta(seconds=i) for i in range(30)]


@pytest.mark.parametrize("pattern", ["dd/MM/yyyy hh:mm:ss a z", "MM/dd/yyyy HH:mm:ss"])
def test_a_small_file_reads_its_times_as_a_large_one_does(store, tmp_path, pattern):
    """A file of a few lines is not probed for its time format (its lines are the sniffed sample,
    read once); one of 300 is. Both read the same day-or-month-first times the records declare."""
    t0 = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)      # 04/03 and 03/04: either way a date
    want = [t0 + timedelta(minutes=i) for i in range(300)]
    for n in (3, 300):
        recs = [{"event_time": t, "login": f"u{i}@corp.example", "url": "x.example/"} for i, t in enumerate(want[:n])]
        f = tmp_path / f"web-{n}.leef"
        nss_writer.write(recs, "zia_web", "leef", f, leef_time=pattern)
        store.con.execute("DELETE FROM zia_web")
        (r,) = zscaler.ingest_paths(store, [f])
        assert (r.rows_loaded, r.rows_rejected) == (n, 0)
        got = [t for (t,) in store.con.execute("SELECT event_time FROM zia_web ORDER BY source_line").fetchall()]
        assert got == want[:n], (n, pattern)


def _records(n: int) -> list[dict]:
    return [json.loads(web(i % 60, ua=f"agent/{i}")) for i in range(n)]


@pytest.mark.parametrize("shape", ["array", "pretty objects", "array.gz"])
def test_json_documents_stream_in_batches(store, tmp_path, monkeypatch, shape):
    """A JSON array or concatenated pretty-printed objects is read element by element in batches
    of BATCH_BYTES (bounded memory; it was parsed whole up to 256 MiB): same rows as JSON lines."""
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 4096)
    recs = _records(300)                # ~15 elements a batch: ~20 batch seams (each batch costs its statements)
    f = tmp_path / ("feed.json.gz" if shape.endswith(".gz") else "feed.json")
    text = json.dumps(recs, indent=2) if shape.startswith("array") else "\n".join(json.dumps(r, indent=4) for r in recs)
    f.write_bytes(gzip.compress(text.encode()) if shape.endswith(".gz") else text.encode())
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.source_kind, r.lines_read, r.rows_loaded, r.rows_rejected) == ("zia_web", 300, 300, 0)
    got = store.con.execute("SELECT source_line, user_agent FROM zia_web ORDER BY source_line").fetchall()
    assert got == [(i + 1, f"agent/{i}") for i in range(300)]


@pytest.mark.parametrize("damage", ["invalid element", "cut off", "cut off .gz"])
def test_a_damaged_json_array_keeps_the_elements_before_the_damage(store, tmp_path, monkeypatch, damage):
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 4096)
    recs = _records(500)
    text = json.dumps(recs, indent=2)
    marker = json.dumps(recs[300], indent=2).replace("\n", "\n  ")     # as indented inside the array
    assert marker in text
    at = text.index(marker)
    if damage == "invalid element":
        text = text[:at] + '{"sourcetype": "zscalernss-web", "event": oops}' + text[at + len(marker):]
    else:
        text = text[:at + 20]
    f = tmp_path / ("feed.json.gz" if damage.endswith(".gz") else "feed.json")
    f.write_bytes(gzip.compress(text.encode()) if damage.endswith(".gz") else text.encode())
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.lines_read, r.rows_loaded, r.rows_rejected) == (301, 300, 1)
    line, reason = one(store, "SELECT source_line, reason FROM rejects")
    assert line == 301
    assert ("invalid JSON" in reason and "rest of the document is not read" in reason) if damage == "invalid element" \
        else ("cut off" in reason or "invalid JSON" in reason)


# ---------------------------------------------------------------------------------------------
# ZPA LSS files of several log types: each record into its own type's table, one ledger row
LSS_TABLES = ("zpa_user_status", "zpa_user_activity", "zpa_browser_access", "zpa_connector_status")


def _mixed_lss(fixtures, copies: int) -> bytes:
    """`copies` rounds of the golden mixed LSS sample (real records of four loaded log types and
    the App Connector metrics one), each round's records at their own LogTimestamp."""
    import re

    sample = (fixtures / "golden" / "lss_type__mixed_loadable.json").read_text(encoding="utf-8").splitlines()
    out = []
    for n in range(copies):
        stamp = (T0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        out += [re.sub(r'"LogTimestamp": ?"[^"]*"', f'"LogTimestamp":"{stamp}"', ln, count=1) for ln in sample]
    return ("\n".join(out) + "\n").encode()


def _lss_counts(db) -> dict:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in LSS_TABLES}
        counts["rejects"] = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
        counts["ledger"] = con.execute("SELECT status, lines_read, rows_loaded, rows_rejected FROM ingest_ledger").fetchall()
    finally:
        con.close()
    return counts


def test_a_file_of_several_lss_log_types_loads_each_into_its_own_table(tmp_path, monkeypatch, fixtures):
    """Through the CLI, in many batches on the stage threads and chunk commits: every record in
    its own type's table, the metrics records rejected naming their type, one ledger row whose
    counts add up over the tables."""
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 256 << 10)       # 4 batches (each costs its statements)
    monkeypatch.setattr(zscaler_write, "FLUSH_ROWS", 200)
    monkeypatch.setattr(zscaler_write, "CHUNK_ROWS", 300)
    f = tmp_path / "lss-receiver.json"
    f.write_bytes(_mixed_lss(fixtures, 150))
    db = tmp_path / "z.duckdb"
    res = CliRunner().invoke(main, ["ingest", "zscaler", "--db", str(db), "-q", "--max-reject-rate", "100%", str(f)])
    assert res.exit_code == 0, res.output
    assert _lss_counts(db) == {"zpa_user_status": 450, "zpa_user_activity": 150, "zpa_browser_access": 150,
                               "zpa_connector_status": 150, "rejects": 150,
                               "ledger": [("loaded", 1050, 900, 150)]}
    # the same file again is skipped as a whole; a re-sent copy of it is all duplicates, in every table
    copy = tmp_path / "again" / "lss-receiver.json"
    copy.parent.mkdir()
    copy.write_bytes(f.read_bytes() + b"\n")
    res = CliRunner().invoke(main, ["ingest", "zscaler", "--db", str(db), "-q", "--max-reject-rate", "100%",
                                    str(f), str(copy)])
    assert res.exit_code == 0, res.output
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT lines_read, rows_loaded, rows_rejected, rows_duplicate FROM ingest_ledger "
                       "WHERE path = ?", [str(copy)]).fetchall() == [(1050, 0, 150, 900)]
    con.close()


def test_a_file_of_several_lss_log_types_failing_part_way_leaves_no_row_in_any_table(tmp_path, monkeypatch, fixtures):
    """A read error after some chunks of a mixed LSS file committed: no row in any LSS table,
    no reject, the ledger says refused; the whole file then loads in full."""
    monkeypatch.setattr(zscaler, "BATCH_BYTES", 128 << 10)
    monkeypatch.setattr(zscaler_write, "FLUSH_ROWS", 100)
    monkeypatch.setattr(zscaler_write, "CHUNK_ROWS", 200)
    data = gzip.compress(_mixed_lss(fixtures, 150))
    f = tmp_path / "lss.json.gz"
    f.write_bytes(data)
    real, commits = lines.Gunzip.readinto, []
    monkeypatch.setattr(zscaler_write, "_test_kill_point", commits.append)     # told of each chunk commit

    def failing(self, view):                                     # the disk fails after two chunks committed
        if len(commits) >= 2:
            raise OSError(5, "Input/output error")
        return real(self, view)

    db = tmp_path / "z.duckdb"
    monkeypatch.setattr(lines.Gunzip, "readinto", failing)
    res = CliRunner().invoke(main, ["ingest", "zscaler", "--db", str(db), "-q", "--max-reject-rate", "100%", str(f)])
    assert res.exit_code == 2 and "lss.json.gz: cannot read after line" in res.output, res.output
    assert len(commits) >= 2
    assert _lss_counts(db) == {"zpa_user_status": 0, "zpa_user_activity": 0, "zpa_browser_access": 0,
                               "zpa_connector_status": 0, "rejects": 0, "ledger": [("refused", 0, 0, 0)]}
    monkeypatch.setattr(lines.Gunzip, "readinto", real)
    whole = tmp_path / "whole.json.gz"
    whole.write_bytes(data)
    res = CliRunner().invoke(main, ["ingest", "zscaler", "--db", str(db), "-q", "--max-reject-rate", "100%", str(whole)])
    assert res.exit_code == 0, res.output
    assert _lss_counts(db)["zpa_connector_status"] == 150


def test_nested_fields_first_seen_after_the_sniffed_lines_of_an_elastic_export_are_kept(store, tmp_path, fixtures):
    # an Elastic (ECS) export: a nested field that first appears after the sniffed lines, in an
    # object the plan knows (zscaler_zia.dns) or a new one, lands in `extra` under its dotted path
    from zsaudit.ingest.zscaler_sniff import SNIFF_LINES

    doc = json.loads((fixtures / "golden" / "siem_export__elastic_ecs_dns.ndjson").read_text(encoding="utf-8").splitlines()[0])
    docs = []
    for i in range(SNIFF_LINES + 30):
        d = json.loads(json.dumps(doc))
        d["@timestamp"] = (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        docs.append(d)
    late = SNIFF_LINES + 10
    docs[late]["zscaler_zia"]["dns"]["protocol"] = "UDP"                      # a new leaf in a known object
    docs[late]["observer"] = {"vendor": "Zscaler", "ingress": {"zone": ["a", "b"]}, "gone": None}
    f = write(tmp_path / "dns-export.ndjson", [json.dumps(d) for d in docs])
    (r,) = zscaler.ingest_paths(store, [f])
    assert (r.source_kind, r.rows_loaded, r.rows_rejected) == ("zia_dns", SNIFF_LINES + 30, 0)
    extra = json.loads(one(store, "SELECT extra FROM zia_dns WHERE source_line = ?", [late + 1])[0])
    assert (extra["zscaler_zia.dns.protocol"], extra["observer.vendor"], extra["observer.ingress.zone"]) == \
        ("UDP", "Zscaler", '["a","b"]')
    assert "observer.gone" not in extra and extra["source.geo.city_name"] == "Linköping"
    before = json.loads(one(store, "SELECT extra FROM zia_dns WHERE source_line = ?", [late])[0])
    assert set(extra) - set(before) == {"zscaler_zia.dns.protocol", "observer.vendor", "observer.ingress.zone"}
