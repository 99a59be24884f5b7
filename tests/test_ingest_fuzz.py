"""Mutation fuzz of `ingest zscaler` over real sample lines of all six formats (issue #18).

A seeded mutator (flipped and inserted bytes, NUL, bare CR, Latin-1 and broken %HH escapes, cut,
spliced and doubled spans, deep nesting, thousands of keys, long runs) damages real lines from
fixtures/zscaler (JSON, CSV, kv, LEEF) and the same records rendered by nss_writer (TSV, CEF: no
real line of those is published). One command ingests every file; nothing may escape but the
plain per-file error, every file ends up in the ledger or named in that error, and each ledger
row reconciles with the rows and rejects in the store.

ZSAUDIT_FUZZ_SEED / ZSAUDIT_FUZZ_FILES run other or more cases (default: seed 18, 6 files per
source, 60 files, under a minute on a shared 2-core machine).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from zsaudit.ingest import nss_writer, zscaler
from zsaudit.ingest.zscaler import IngestErrors

from conftest import FIXTURES

SEED = int(os.environ.get("ZSAUDIT_FUZZ_SEED", "18"))
FILES_PER_FORMAT = int(os.environ.get("ZSAUDIT_FUZZ_FILES", "6"))
LINES_PER_FILE = 40
Z = FIXTURES / "zscaler"

_NOISE = [b"\x00", b"\r", b"\xff", b"\xe9", b"%E9", b"%", b"%zz", b'"', b"\\", b"{", b"}", b"[", b"=",
          b"\t", b"|", b",", b" ", b"\xc3", b"\n"]


def _real_lines() -> dict[str, list[bytes]]:
    """Feeds as published, one source per key (a file is damaged lines of one source)."""
    def lines(name):
        return [ln for ln in (Z / name).read_bytes().splitlines() if ln.strip()]

    return {
        "json": lines("zscaler_zia__web__test-web.log"),
        "json_cloudnss": lines("cloud-nss-test__sample-web.log"),
        "json_zpa": lines("zscaler_zpa__user_status__test-user-status.log"),
        "csv": lines("zia_nss_default_csv_sample__web.csv"),
        "kv_sekoia": lines("sekoia_kv_web.log"),
        "leef": lines("sumo_leef_web_tabs.log"),
        "leef_spaces": lines("sumo_leef_web_spaces.log"),
    }


def _rendered_lines(store) -> dict[str, list[bytes]]:
    """The records of the real web sample, rendered by the feed writer as TSV, kv and CEF (no
    real line of TSV or CEF is published; the one real kv line has no time field)."""
    zscaler.ingest_paths(store, [Z / "zscaler_zia__web__test-web.log"])
    cur = store.con.execute("SELECT * FROM zia_web ORDER BY source_line")
    names = [d[0] for d in cur.description]
    records = [dict(zip(names, r)) for r in cur.fetchall()]
    return {fmt: [ln.encode() for ln in nss_writer.render_lines(records, "zia_web", fmt)]
            for fmt in ("tsv", "kv", "cef")}


def _mutate(rnd: random.Random, line: bytes) -> bytes:
    b = bytearray(line)
    for _ in range(rnd.randint(1, 3)):
        op = rnd.randrange(10)
        at = rnd.randint(0, len(b))
        if op == 0 and b:                                       # flip a byte
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        elif op == 1:                                           # insert noise
            b[at:at] = rnd.choice(_NOISE) * rnd.randint(1, 3)
        elif op == 2:                                           # cut a span
            b[at:at + rnd.randint(1, 40)] = b""
        elif op == 3:                                           # truncate
            del b[at:]
        elif op == 4 and b:                                     # double a span
            end = min(len(b), at + rnd.randint(1, 200))
            b[at:at] = b[at:end] * rnd.randint(2, 5)
        elif op == 5:                                           # deep nesting
            k = rnd.choice([10, 70, 1200])
            b[at:at] = b"[" * k + b"]" * k
        elif op == 6:                                           # many keys
            n = rnd.choice([50, 1500])
            sep = rnd.choice([b"\t", b" ", b","])
            b[at:at] = sep.join(b"k%d=v%d" % (i, i) for i in range(n))
        elif op == 7:                                           # a long run
            b[at:at] = bytes([rnd.choice(b"aZ%\" ")]) * rnd.choice([300, 5000, 70_000])
        elif op == 8:                                           # a Latin-1 / broken escape in a value
            b[at:at] = rnd.choice([b"caf%E9", b"%C3", b"%%", b"%E9%80%80", b"\xe9t\xe9"])
        else:                                                   # splice with another damage later
            b = b[:at] + b[rnd.randint(0, len(b)):]
    return bytes(b)


def _file(rnd: random.Random, lines: list[bytes], header: bytes | None) -> bytes:
    body = [rnd.choice(lines) for _ in range(LINES_PER_FILE)]
    rate = rnd.choice([0.1, 0.3, 0.9])
    start = 0 if rnd.random() < 0.25 else 1          # mostly keep line 1 whole (it is sniffed)
    body = [body[0]] + [_mutate(rnd, ln) if i >= start and rnd.random() < rate else ln
                        for i, ln in enumerate(body[1:], 1)]
    if start == 0 and rnd.random() < 0.5:
        body[0] = _mutate(rnd, body[0])
    return b"\n".join(([header] if header else []) + body) + rnd.choice([b"\n", b"", b"\r\n"])


def test_mutated_feeds_of_every_format_never_crash_and_always_reconcile(store, tmp_path):
    samples = _real_lines() | _rendered_lines(store)
    headers = {"tsv": samples["tsv"].pop(0)}          # the TSV rendering starts with its header
    rnd = random.Random(SEED)
    folder = tmp_path / "feeds"
    folder.mkdir()
    for fmt, lines in sorted(samples.items()):
        assert lines, fmt
        for i in range(FILES_PER_FORMAT):
            (folder / f"{fmt}-{i:02d}.log").write_bytes(_file(rnd, lines, headers.get(fmt)))
    files = sorted(folder.iterdir())

    try:
        zscaler.ingest_paths(store, [folder])
        refused = ""
    except IngestErrors as exc:                        # files refused whole, each named; never a crash
        assert not isinstance(exc, zscaler.IngestInternalError), str(exc)
        refused = str(exc)

    con = store.con
    ledger = {r[0]: r[1:] for r in con.execute(
        "SELECT path, file_id, lines_read, rows_loaded, rows_rejected, rows_duplicate FROM ingest_ledger "
        "WHERE status <> 'refused'").fetchall()}
    refused_rows = {r[0]: r[1] for r in con.execute(
        "SELECT path, note FROM ingest_ledger WHERE status = 'refused'").fetchall()}
    loaded_per_format = {}
    for f in files:
        if str(f) not in ledger:
            # refused whole: named by the command AND kept in the ledger with its reason (the pack
            # shows the file), with nothing of it loaded
            assert str(f) in refused, f"{f.name}: neither in the ledger nor named as refused"
            assert refused_rows.get(str(f)), f"{f.name}: refused without a 'refused' ledger row and reason"
            for table in ("zia_web", "zia_firewall", "zia_dns", "zpa_user_activity", "zpa_user_status", "rejects"):
                assert con.execute(f"SELECT count(*) FROM {table} t JOIN ingest_ledger l USING (file_id) "
                                   "WHERE l.path = ?", [str(f)]).fetchone()[0] == 0, (f.name, table)
            continue
        assert str(f) not in refused_rows, f"{f.name}: both loaded and refused"
        file_id, read, loaded, rejected, duplicate = ledger[str(f)]
        assert read == loaded + rejected + duplicate, f.name
        table = con.execute("SELECT source_kind FROM ingest_ledger WHERE file_id = ?", [file_id]).fetchone()[0]
        assert con.execute(f"SELECT count(*) FROM {table} WHERE file_id = ?", [file_id]).fetchone()[0] == loaded
        assert con.execute("SELECT count(*) FROM rejects WHERE file_id = ?", [file_id]).fetchone()[0] == rejected
        fmt = f.name.rsplit("-", 1)[0]
        # a record already loaded (LEEF with spaces and with TABs are the same records) counts too
        loaded_per_format[fmt] = loaded_per_format.get(fmt, 0) + loaded + duplicate
    # the damage is partial: every source but the time-less kv line still loads lines
    assert {k for k, n in loaded_per_format.items() if n} == set(samples) - {"kv_sekoia"}, loaded_per_format
    # rejects are bounded whatever the line: 4,096 characters, with the whole line's length and hash
    assert con.execute("SELECT count(*) FROM rejects WHERE length(raw) > 4096 OR raw_sha256 IS NULL "
                       "OR raw_bytes IS NULL").fetchone()[0] == 0


def test_mutated_airflow_task_logs_lose_lines_never_files(store, tmp_path):
    """The same mutator over the real Airflow 2.10 and 3.3 task logs: every file loads (its bad
    lines rejected), none is refused whole, and every ledger row reconciles."""
    import shutil

    from zsaudit.ingest import airflow

    rnd = random.Random(SEED)
    roots = []
    for version in ("2.10.5", "3.3.2"):
        root = tmp_path / version
        shutil.copytree(FIXTURES / "airflow" / version / "logs", root)
        roots.append(root)
        for f in sorted(root.rglob("*.log")):
            lines = f.read_bytes().split(b"\n")
            f.write_bytes(b"\n".join(_mutate(rnd, ln) if rnd.random() < 0.3 else ln for ln in lines))
    results = airflow.ingest_paths(store, roots)
    assert results and not [r.note for r in results if "not loaded" in (r.note or "")]
    for read, loaded, rejected in store.con.execute(
            "SELECT lines_read, rows_loaded, rows_rejected FROM ingest_ledger").fetchall():
        assert read == loaded + rejected
    assert store.con.execute("SELECT count(*) FROM rejects").fetchone()[0] > 0
