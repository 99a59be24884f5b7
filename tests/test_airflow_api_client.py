"""The Airflow API client against a real loopback HTTP server that misbehaves on purpose:
429 and 5xx answers, a slow answer, pages, and no server at all (zsaudit/ingest/airflow_api.py)."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse

import pytest

from zsaudit.errors import BadUsage
from zsaudit.ingest.airflow_api import ApiUnavailable, Client, Credentials


class _Flaky(http.server.BaseHTTPRequestHandler):
    """GET /api/v2/items: 503, then 429, then a slow answer, then pages of 100 out of 250."""

    def do_GET(self):  # noqa: N802
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/api/v2/monitor/health":
            return self._json(200, {"status": "ok"})
        n = len([p for p, _ in self.server.seen if p.startswith("/api/v2/items")])
        if n == 1:
            return self._json(503, {"detail": "busy"})
        if n == 2:
            return self._json(429, {"detail": "slow down"}, {"Retry-After": "0"})
        if n == 3:
            time.sleep(1.0)          # longer than the client's timeout: retried
        offset = int(urllib.parse.parse_qs(url.query)["offset"][0])
        items = [{"i": i} for i in range(offset, min(offset + 100, 250))]
        return self._json(200, {"items": items, "total_entries": 250})

    def _json(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_retries_429_5xx_and_timeouts_then_reads_every_page(flaky, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = Client(f"http://127.0.0.1:{flaky.server_address[1]}", Credentials(token="t0k3n"),
                    timeout=0.5, retries=4, backoff=0.01)
    assert client.detect() == 2
    items = client.pages("/api/v2/items", "items", {})
    assert [x["i"] for x in items] == list(range(250))
    calls = [p for p, _ in flaky.seen if p.startswith("/api/v2/items")]
    assert len(calls) == 3 + 3          # 503, 429, timeout, then three pages
    assert all(auth == "Bearer t0k3n" for p, auth in flaky.seen if p.startswith("/api/v2/items"))


def test_no_server_is_unavailable_and_retryable(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # closed again: nothing listens there
    client = Client(f"http://127.0.0.1:{port}", timeout=0.5, retries=2, backoff=0.01)
    client.version = 2
    with pytest.raises(ApiUnavailable, match=r"no answer after 3 tries") as err:
        client.get_json("/api/v2/dags")
    assert err.value.exit_code == 2 and err.value.retryable


def test_credentials_never_in_argv_urls_or_reprs(tmp_path):
    with pytest.raises(BadUsage, match="no credentials in the URL"):
        Client("https://admin:hunter2@airflow.example.com")
    secrets = tmp_path / "airflow-api.toml"
    secrets.write_text('user = "auditor"\npassword = "hunter2"\n')
    creds = Credentials.load(environ={}, secrets_file=str(secrets))
    assert (creds.user, creds.password) == ("auditor", "hunter2") and "hunter2" not in repr(creds)
    assert Credentials.load(environ={"ZSAUDIT_AIRFLOW_TOKEN": "abc"}).token == "abc"
    secrets.write_text('username = "typo"\n')
    with pytest.raises(BadUsage, match="neither 'token' nor 'user' and 'password'"):
        Credentials.load(environ={}, secrets_file=str(secrets))


@pytest.fixture
def tls_server(tmp_path):
    """The same handler over HTTPS, with a certificate for 127.0.0.1 from a throwaway CA (openssl CLI)."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=zsaudit test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "srv.pem", "-days", "2", "-extfile", "san.ext")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    server.seen = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", tmp_path / "ca.pem"
    server.shutdown()
    server.server_close()


def test_tls_is_verified_against_the_given_ca_bundle(tls_server, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("ZSAUDIT_AIRFLOW_CA_BUNDLE", raising=False)
    url, ca = tls_server
    with pytest.raises(BadUsage, match="TLS failed.*--ca-bundle"):
        Client(url, retries=0).detect()
    assert Client(url, ca_bundle=str(ca), retries=0).detect() == 2
    monkeypatch.setenv("ZSAUDIT_AIRFLOW_CA_BUNDLE", str(ca))
    assert Client(url, retries=0).detect() == 2


class _Paged(http.server.BaseHTTPRequestHandler):
    """GET /api/v2/items: 1,000 items in pages; the first request for offset 300 gets a 429 with
    Retry-After: 1. Logs (monotonic time, offset, status) of every request."""

    def do_GET(self):  # noqa: N802
        url = urllib.parse.urlsplit(self.path)
        offset = int(urllib.parse.parse_qs(url.query)["offset"][0])
        with self.server.lock:
            first_300 = offset == 300 and not any(o == 300 for _, o, _ in self.server.seen)
            self.server.seen.append((time.monotonic(), offset, 429 if first_300 else 200))
        if first_300:
            return _Flaky._json(self, 429, {"detail": "slow down"}, {"Retry-After": "1"})
        items = [{"i": i} for i in range(offset, min(offset + 100, 1000))]
        return _Flaky._json(self, 200, {"items": items, "total_entries": 1000})

    def log_message(self, *args):
        pass


class _RecordingClient(Client):
    """A Client that notes, for each request it sends, when it passed the pause gate and until
    when a server's Retry-After held the workers at that moment."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate: list[tuple[float, float]] = []

    def _wait_for_pause(self) -> None:
        super()._wait_for_pause()
        with self._lock:
            self.gate.append((time.monotonic(), self._paused_until))


@pytest.fixture
def paged(monkeypatch):
    """The _Paged server on loopback and a client factory for it (the client's worker count)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Paged)
    server.seen, server.lock = [], threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def client(workers: int) -> "_RecordingClient":
        c = _RecordingClient(f"http://127.0.0.1:{server.server_address[1]}", Credentials(token="t"),
                             workers=workers, retries=3, backoff=0.01)
        c.version = 2
        return c

    yield server, client
    server.shutdown()
    server.server_close()


def test_concurrent_pages_arrive_in_order_and_a_retry_after_pauses_every_worker(paged):
    from concurrent.futures import ThreadPoolExecutor

    server, make_client = paged
    client = make_client(4)
    with ThreadPoolExecutor(max_workers=client.workers) as pool:
        items = client.pages("/api/v2/items", "items", {}, pool=pool)
    assert [x["i"] for x in items] == list(range(1000))        # every item once, in order
    assert [status for _, _, status in server.seen].count(429) == 1
    assert client.requests == len(server.seen) == len(client.gate) == 11
    # the 429's Retry-After (1 s) held every worker: each request sent once the pause was known
    # was sent after it ended, whichever thread sent it (timing-free: no assumption on load)
    paused = [(sent, until) for sent, until in client.gate if until]
    assert paused, client.gate
    assert all(sent >= until for sent, until in paused), paused


def test_bounded_map_keeps_a_window_and_the_order():
    from concurrent.futures import ThreadPoolExecutor

    from zsaudit.ingest.airflow_api import bounded_map

    submitted = []

    def items():
        for i in range(50):
            submitted.append(i)
            yield i

    with ThreadPoolExecutor(max_workers=3) as pool:
        out = []
        for x in bounded_map(pool, lambda i: i * i, items(), window=5):
            assert len(submitted) - len(out) <= 5          # never more than the window ahead
            out.append(x)
    assert out == [i * i for i in range(50)]


def test_workers_come_from_the_environment_and_are_checked():
    from zsaudit.ingest.airflow_api import WORKERS, workers_from_env

    assert workers_from_env({}) == WORKERS
    assert workers_from_env({"ZSAUDIT_AIRFLOW_API_WORKERS": "16"}) == 16
    for bad in ("0", "33", "four", "-1"):
        with pytest.raises(BadUsage, match="ZSAUDIT_AIRFLOW_API_WORKERS.*1 to 32"):
            workers_from_env({"ZSAUDIT_AIRFLOW_API_WORKERS": bad})


def test_listing_pages_are_handed_on_one_at_a_time_with_a_window_ahead(paged):
    """A night's listing is never held whole: while the caller works on a page, at most a window
    of later pages (two per worker) has been asked for."""
    from concurrent.futures import ThreadPoolExecutor

    server, make_client = paged
    client = make_client(2)
    seen_at_page, got = [], []
    with ThreadPoolExecutor(max_workers=client.workers) as pool:
        for page in client.iter_pages("/api/v2/items", "items", {}, pool=pool):
            pages_asked = len({p for p, _, status in server.seen if status == 200})
            seen_at_page.append(pages_asked - len(seen_at_page) - 1)
            got.extend(x["i"] for x in page)
            time.sleep(0.05)                     # the caller's work on the page
    assert got == list(range(1000))
    assert len(seen_at_page) == 10
    assert max(seen_at_page) <= 2 * client.workers, seen_at_page    # pages fetched ahead of the caller


def test_the_export_is_sorted_by_attempt_whatever_the_run_size(tmp_path, monkeypatch):
    """The tries are spilled in sorted runs and merged: the export is the same bytes whether it
    fitted one run or needed many, sorted by (dag, run, task, map index, try), and valid JSON."""
    import random

    from zsaudit.ingest import airflow_api

    tries = [{"dag_id": f"d{d}", "dag_run_id": f"r{r}", "task_id": "t", "map_index": mi, "try_number": tn,
              "state": "success", "note": "tab\there, newline\nthere"}
             for d in range(3) for r in range(2) for mi in (None, -1, 0, 2, 10) for tn in (1, 2, 11)]
    random.Random(7).shuffle(tries)

    def export(run: int, name: str) -> bytes:
        monkeypatch.setattr(airflow_api._SortedExport, "RUN", run)
        path = tmp_path / name / "export.json"
        with airflow_api._SortedExport(path) as out:
            for t in tries:
                out.add(t)
        assert out.count == len(tries)
        assert sorted(p.name for p in path.parent.iterdir()) == ["export.json"]   # no runs left behind
        return path.read_bytes()

    one, many = export(10_000, "one"), export(4, "many")
    assert one == many
    doc = json.loads(one)
    assert doc["total_entries"] == len(tries) == len(doc["task_instances"])
    keys = [(t["dag_id"], t["dag_run_id"], -1 if t["map_index"] is None else t["map_index"], t["try_number"])
            for t in doc["task_instances"]]
    assert keys == sorted(keys)
    assert doc["task_instances"][0]["note"] == "tab\there, newline\nthere"


def test_a_pull_that_fails_leaves_the_previous_export_as_it_was(tmp_path, monkeypatch):
    from zsaudit.ingest import airflow_api

    monkeypatch.setattr(airflow_api._SortedExport, "RUN", 2)
    path = tmp_path / "export.json"
    path.write_text('{"task_instances": [], "total_entries": 0}')
    with pytest.raises(RuntimeError):
        with airflow_api._SortedExport(path) as out:
            for i in range(5):
                out.add({"dag_id": "d", "dag_run_id": "r", "task_id": f"t{i}", "try_number": 1})
            raise RuntimeError("the API went away")
    assert path.read_text() == '{"task_instances": [], "total_entries": 0}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]
