"""`zsaudit receive`: the Cloud NSS receiver as a real process (uvicorn) on 127.0.0.1, driven over
loopback by bounded clients, then `zsaudit ingest zscaler` on its output folder (in this process:
CliRunner; the receiver is the process under test).

Every accepted batch is on disk exactly once with the bytes sent; every refused one got its code
(400 kept aside with the reason, 401, 413); kill -9 loses no acknowledged record; ingest loads
exactly the accepted records."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from zsaudit import receive
from zsaudit.cli import main
from zsaudit.receive import Batch, Rejected, Settings
from zsaudit.store import Store
from zsaudit.synth import synthesize

pytest.importorskip("uvicorn", reason="the receive extra (uvicorn) is not installed")

ZSAUDIT = str(Path(sys.executable).with_name("zsaudit"))
TOKEN = "s3cr3t-token-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self, out: Path, *extra: str, port: int | None = None, tls: tuple[Path, Path] | None = None):
        self.out, self.port, self.tls = out, port or free_port(), tls
        args = [ZSAUDIT, "receive", "--listen", f"127.0.0.1:{self.port}", "--out", str(out), *extra]
        if tls:
            args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        self.proc = subprocess.Popen(args, env={**os.environ, "ZSAUDIT_RECEIVE_TOKEN": TOKEN},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stdout.read()
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("receiver did not answer /health within 60 s")

    def connection(self):
        if self.tls:
            ctx = ssl.create_default_context(cafile=str(self.tls[0]))
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method, path, body=None, headers=None) -> tuple[int, dict]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"{}")
        finally:
            conn.close()

    def post(self, body: bytes, *, token=TOKEN, scheme="Bearer", gzipped=True) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json", "User-Agent": "Zscaler Cloud NSS"}
        if token is not None:
            headers["Authorization"] = f"{scheme} {token}"
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return self.request("POST", "/services/collector/raw", body, headers)

    def stop(self, sig=signal.SIGTERM) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


@pytest.fixture(scope="module")
def records() -> list[bytes]:
    """Real-shaped Cloud NSS web records (HEC envelope, JSON), one per line, each with its recordid."""
    night = synthesize(Path(os.environ.get("TMPDIR", "/tmp")) / f"zsaudit-receive-{os.getpid()}",
                       requests=600, seed=7)
    lines = (night.out_dir / "zscaler" / "zia_web.json").read_bytes().splitlines()
    return [ln for ln in lines if ln.strip()]


def batches(records: list[bytes], n: int, seed: int) -> list[dict]:
    """n batches of 1-12 records each, most gzip'd JSON lines, some plain, some JSON arrays; a
    share malformed (400) and a share with a bad secret (401)."""
    rng = random.Random(seed)
    out, i = [], 0
    for k in range(n):
        size = rng.randint(1, 12)
        recs = [records[(i + j) % len(records)] for j in range(size)]
        i += size
        shape = rng.random()
        if shape < 0.15:
            text = b"[" + b",".join(recs) + b"]"
        else:
            text = b"\n".join(recs) + (b"\n" if shape < 0.8 else b"")
        gz = rng.random() < 0.8
        body = gzip.compress(text, mtime=0) if gz else text
        b = {"body": body, "gzipped": gz, "records": recs, "expect": 200, "token": TOKEN, "scheme": "Bearer"}
        fault = rng.random()
        if fault < 0.08:
            b.update(body=body[: len(body) // 2] if gz else b"{not json at all\n", expect=400)
        elif fault < 0.13:
            b.update(body=gzip.compress(b"hello, this is not JSON\n") if gz else b"<html>", expect=400)
        elif fault < 0.18:
            b.update(token="wrong-" + TOKEN, expect=401)
        elif fault < 0.21:
            b.update(token=None, expect=401)
        elif fault < 0.25:
            b.update(scheme="Splunk")
        elif fault < 0.28:
            b.update(scheme="Basic", expect=401)
        out.append(b)
    return out


def landed(out: Path) -> dict[str, Path]:
    """sha256 of each visible batch file -> its path (the files ingest reads)."""
    files = [p for p in out.rglob("*") if p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(out).parts)]
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in files}


def record_ids(lines) -> list[str]:
    return sorted(json.loads(ln)["event"]["recordid"] for ln in lines)


def ingest(out: Path, db: Path) -> str:
    """`zsaudit ingest zscaler OUT` (in this process); its output."""
    result = CliRunner().invoke(main, ["ingest", "zscaler", str(out), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.output


def db_record_ids(db: Path) -> list[str]:
    with Store(db, read_only=True) as s:
        return sorted(str(r[0]) for r in s.con.execute("SELECT record_id FROM zia_web").fetchall())


def test_concurrent_batches_land_once_and_ingest_loads_exactly_the_accepted_records(tmp_path, records):
    out = tmp_path / "nss"
    rx = Receiver(out)
    # 60 batches (~48 accepted files to ingest) over the night's first 250 records: they wrap
    # around, so records are resent, as with 100 batches over all of them
    todo = batches(records[:250], 60, seed=1)
    assert {b["expect"] for b in todo} == {200, 400, 401}
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:       # bounded client: 8 connections at once
            answers = list(pool.map(lambda b: rx.post(b["body"], token=b["token"], scheme=b["scheme"],
                                                      gzipped=b["gzipped"]), todo))
    finally:
        log = rx.stop()
    assert rx.proc.returncode == 0, log
    assert [a[0] for a in answers] == [b["expect"] for b in todo]
    accepted = [b for b in todo if b["expect"] == 200]
    for b, (status, reply) in zip(todo, answers):
        if status == 200:
            assert reply["records"] == len(b["records"])
    on_disk = landed(out)
    assert sorted(on_disk) == sorted(hashlib.sha256(b["body"]).hexdigest() for b in accepted)  # each once
    assert all(p.parent.name.isdigit() and len(p.parent.name) == 2 for p in on_disk.values())  # hourly
    bad = [b for b in todo if b["expect"] == 400]
    kept = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / ".rejected").rglob("*.body"))
    assert kept == sorted(hashlib.sha256(b["body"]).hexdigest() for b in bad)
    reasons = [json.loads(p.read_text()) for p in (out / ".rejected").rglob("*.json")]
    assert len(reasons) == len(bad) and all(r["status"] == 400 and r["reason"] for r in reasons)
    assert all("authorization" not in r["headers"] for r in reasons)
    assert not list(out.rglob("*.part"))

    db = tmp_path / "store.duckdb"
    ingest(out, db)
    # the batches reuse records (the client wraps around the night), as an NSS resend would: each
    # record is loaded once
    sent = record_ids([r for b in accepted for r in b["records"]])
    assert len(sent) > len(set(sent))
    assert db_record_ids(db) == sorted(set(sent))
    again = ingest(out, db)                                   # immutable batch files: a no-op
    assert again.count("already ingested") == len(accepted)


def test_kill_9_between_batches_loses_no_acknowledged_record(tmp_path, records):
    out = tmp_path / "nss"
    todo = [b for b in batches(records, 40, seed=2) if b["expect"] == 200]
    acked = []
    rx = Receiver(out)
    port = rx.port
    for b in todo[:15]:
        status, _ = rx.post(b["body"], gzipped=b["gzipped"])
        assert status == 200
        acked.append(b)
    # a batch in flight when the receiver dies: half its body sent, never acknowledged
    conn = socket.create_connection(("127.0.0.1", port))
    half = todo[15]["body"]
    conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
                 b"\r\nContent-Encoding: gzip\r\nContent-Length: " + str(len(half)).encode() + b"\r\n\r\n" +
                 half[: len(half) // 2])
    time.sleep(0.5)
    rx.stop(signal.SIGKILL)
    conn.close()
    assert sorted(landed(out)) == sorted(hashlib.sha256(b["body"]).hexdigest() for b in acked)

    rx = Receiver(out, port=port)                            # back on the same folder
    try:
        for b in todo[15:]:
            status, _ = rx.post(b["body"], gzipped=b["gzipped"])
            assert status == 200
            acked.append(b)
    finally:
        rx.stop()
    db = tmp_path / "store.duckdb"
    ingest(out, db)
    assert db_record_ids(db) == record_ids([r for b in acked for r in b["records"]])


def test_limits_gzip_bomb_health_and_methods(tmp_path, records):
    out = tmp_path / "nss"
    rx = Receiver(out, "--max-body", "64KiB", "--max-inflated", "1MiB")
    try:
        assert rx.request("GET", "/health") == (200, {"text": "HEC is healthy", "code": 17})
        assert rx.request("GET", "/services/collector/raw")[0] == 405
        big = b"\n".join(records[:400])                       # > 64 KiB plain
        assert len(big) > 64 << 10
        assert rx.post(big, gzipped=False)[0] == 413
        bomb = gzip.compress(b"{" + b" " * (8 << 20) + b"}\n")  # 8 MiB of spaces in ~8 KiB
        assert len(bomb) < 64 << 10
        status, reply = rx.post(bomb)
        assert status == 413 and "inflates to more than" in reply["text"]
        assert rx.post(gzip.compress(b"\n".join(records[:5])), token=TOKEN + "x")[0] == 401
        assert rx.post(b"", gzipped=False)[0] == 400
        assert rx.post(b"[" + b",".join(records[:3]), gzipped=False)[0] == 400      # unterminated array
        assert rx.post(b"[" + b",".join(records[:3]) + b"]", gzipped=False) == (
            200, {"text": "Success", "code": 0, "records": 3})
    finally:
        rx.stop()
    kept = [json.loads(p.read_text()) for p in (out / ".rejected").rglob("*.json")]
    assert sorted(k["status"] for k in kept) == [400, 400, 413, 413]
    assert all(k["body"] is None for k in kept if k["status"] == 413)       # reason only, not the bytes
    assert len(landed(out)) == 1


def test_sigterm_lets_the_batch_in_flight_finish(tmp_path, records):
    out = tmp_path / "nss"
    rx = Receiver(out)
    body = gzip.compress(b"\n".join(records[:50]) + b"\n", mtime=0)
    conn = http.client.HTTPConnection("127.0.0.1", rx.port, timeout=60)
    conn.putrequest("POST", "/")
    for k, v in (("Authorization", f"Splunk {TOKEN}"), ("Content-Encoding", "gzip"),
                 ("Content-Length", str(len(body)))):
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(body[:100])
    time.sleep(0.3)
    rx.proc.send_signal(signal.SIGTERM)                      # shutdown starts mid-body
    time.sleep(0.3)
    conn.send(body[100:])
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["records"] == 50
    conn.close()
    rx.stop()
    assert rx.proc.returncode == 0
    assert list(landed(out)) == [hashlib.sha256(body).hexdigest()]


def test_tls(tmp_path, records):
    pytest.importorskip("cryptography", reason="cryptography (a moto dependency) makes the test certificate")
    cert, key = self_signed(tmp_path)
    out = tmp_path / "nss"
    rx = Receiver(out, tls=(cert, key))
    try:
        assert rx.post(gzip.compress(b"\n".join(records[:4]))) == (200, {"text": "Success", "code": 0, "records": 4})
        plain = http.client.HTTPConnection("127.0.0.1", rx.port, timeout=10)
        with pytest.raises((http.client.HTTPException, OSError)):
            plain.request("GET", "/health")
            plain.getresponse()
        plain.close()
    finally:
        rx.stop()
    assert len(landed(out)) == 1


def test_no_token_is_a_usage_error(tmp_path, monkeypatch):
    def serve(*args, **kwargs):                 # in this process: a usage error must come before it
        raise AssertionError("receive served despite a usage error")

    monkeypatch.setattr(receive, "serve", serve)
    result = CliRunner().invoke(main, ["receive", "--listen", "127.0.0.1:1", "--out", str(tmp_path)],
                                env={"ZSAUDIT_RECEIVE_TOKEN": None})
    assert result.exit_code == 2 and "ZSAUDIT_RECEIVE_TOKEN is not set" in result.output
    bad = CliRunner().invoke(main, ["receive", "--listen", "nohost", "--out", str(tmp_path)],
                             env={"ZSAUDIT_RECEIVE_TOKEN": "x"})
    assert bad.exit_code == 2 and "--listen: expected HOST:PORT" in bad.output


def self_signed(folder: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _reference(lines: list[bytes]) -> int | None:
    """Records of a JSON-lines body, or None when a non-blank line is not `{...}`."""
    n = 0
    for ln in lines:
        s = ln.strip(b" \t\r")
        if not s:
            continue
        if not (s.startswith(b"{") and s.endswith(b"}")):
            return None
        n += 1
    return n or None


_LINE = st.one_of(st.just(b'{"a":1}'), st.just(b""), st.just(b"  "), st.just(b'{"x":"}"}  '),
                  st.just(b' {"b":[1,2]}'), st.just(b'{"c":2}\r'), st.just(b"x{}"), st.just(b"{}x"),
                  st.just(b"{"), st.just(b"}"), st.just(b"{}"))


@settings(max_examples=150, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=30), st.integers(1, 40), st.booleans())
def test_json_lines_framing_matches_a_line_by_line_reading(tmp_path_factory, lines, step, gz):
    """The fast count path and the regex path together accept exactly the bodies whose every
    non-blank line is an object, and count its records, however the body is cut into reads."""
    body = b"\n".join(lines)
    sent = gzip.compress(body, mtime=0) if gz else body
    batch = Batch(Settings(out=tmp_path_factory.mktemp("f"), token="t"), gz)
    try:
        for i in range(0, len(sent), step):
            batch.feed(sent[i:i + step])
        got = batch.finish()
    except Rejected as exc:
        batch.discard()
        assert exc.status == 400
        got = None
    assert got == _reference(body.split(b"\n"))


def test_json_arrays_are_checked_on_one_kept_duckdb_instance(tmp_path, monkeypatch):
    """The array check keeps one DuckDB instance for the process, made at the first array: a
    refused array leaves it fit for the next, arrays checked on threads at once each get their own
    count, and a forked child (another pid) makes its own."""
    import duckdb

    made, real = [], duckdb.connect
    monkeypatch.setattr(receive, "_ARRAYS", receive._ArrayChecker())
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: made.append(a) or real(*a, **k))
    (tmp_path / "out").mkdir()

    def check(n: int, gz: bool, bad: bool = False) -> int:
        body = b"[" + b",".join(b'{"n":%d,"pad":"%s"}' % (i, b"x" * (i % 7)) for i in range(n)) + \
               (b',{"n":oops}' if bad else b"") + b"]"
        batch = Batch(Settings(out=tmp_path / "out", token="t"), gz)
        batch.feed(gzip.compress(body, mtime=0) if gz else body)
        try:
            return batch.finish()
        except Rejected:
            batch.discard()
            raise

    assert check(3, False) == 3
    with pytest.raises(Rejected, match="not a JSON array of objects") as refused:
        check(4, True, bad=True)
    assert refused.value.status == 400
    assert check(5, True) == 5                                 # the instance after a failed check
    sizes = [1 + (i * 37) % 300 for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda i: check(sizes[i], i % 2 == 0), range(24))) == sizes
    assert len(made) == 1
    receive._ARRAYS.pid = -1                                   # as in a forked child
    assert check(2, False) == 2 and len(made) == 2
