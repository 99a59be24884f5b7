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
