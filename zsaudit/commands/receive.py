"""`zsaudit receive --listen HOST:PORT --out DIR`"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from .base import handle_errors, main
from ..errors import BadUsage

_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$", re.I)


def parse_size(text: str, option: str) -> int:
    m = _SIZE.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise BadUsage(f"{option}: expected a size such as 16MiB, 512KiB or 1048576, got {text!r}")
    unit = (m.group(2) or "B").upper()[:1]
    return int(m.group(1)) * {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadUsage(f"--listen: expected HOST:PORT such as 0.0.0.0:8443 or 127.0.0.1:8088, got {text!r}")
    return host, int(port)


@main.command("receive", short_help="Cloud NSS HTTPS receiver: batches to files for ingest zscaler.")
@click.option("--listen", "listen", required=True, metavar="HOST:PORT",
              help="Address to serve on, e.g. 0.0.0.0:8443.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder the batches land in (OUT/YYYY-MM-DD/HH/*.json[.gz]).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM certificate (chain) for HTTPS; Cloud NSS only posts to https:// URLs.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM private key of --tls-cert.")
@click.option("--max-body", default="16MiB", show_default=True, metavar="SIZE",
              help="Largest body as sent (gzip'd or not); larger gets 413.")
@click.option("--max-inflated", default="128MiB", show_default=True, metavar="SIZE",
              help="Largest body once gunzipped (gzip bombs get 413).")
@click.option("--max-concurrency", default=64, show_default=True, type=click.IntRange(1, 10_000),
              help="Connections served at once (more get 503); bounds memory.")
@click.option("--shutdown-timeout", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Seconds in-flight batches get to finish on SIGTERM / Ctrl-C.")
@handle_errors
def receive(listen, out, tls_cert, tls_key, max_body, max_inflated, max_concurrency, shutdown_timeout):
    """Receive Zscaler Cloud NSS feeds over HTTPS and land each batch as a file.

    \b
    Point a Cloud NSS feed (SIEM type Splunk or other HTTP) at https://HOST:PORT/ with the
    token in its HTTP header  Authorization: Bearer <token>  (or Splunk <token>), and set the
    same token here in the environment: ZSAUDIT_RECEIVE_TOKEN.
    Each accepted batch is fsync'd to OUT/YYYY-MM-DD/HH/ before the 200; bad batches get
    400 (kept in OUT/.rejected/ with the reason), 401 (token) or 413 (size). Then:
      zsaudit ingest zscaler OUT        (or list OUT in zsaudit.toml [zscaler] paths)
    GET /health answers 200. Needs the receive extra: pip install 'zsaudit[receive]'.
    """
    token = os.environ.get("ZSAUDIT_RECEIVE_TOKEN", "")
    if not token.strip():
        raise BadUsage("ZSAUDIT_RECEIVE_TOKEN is not set: set the shared secret your Cloud NSS feed "
                       "sends (Authorization: Bearer <token>) in the environment, never on the command line")
    host, port = parse_listen(listen)
    if bool(tls_cert) != bool(tls_key):
        raise BadUsage("--tls-cert and --tls-key go together")
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        raise BadUsage("zsaudit receive needs uvicorn: pip install 'zsaudit[receive]'") from None
    from ..receive import Settings, serve

    settings = Settings(out=out, token=token.strip(), max_body=parse_size(max_body, "--max-body"),
                        max_inflated=parse_size(max_inflated, "--max-inflated"))
    scheme = "https" if tls_cert else "http"
    click.echo(f"receive: {scheme}://{host}:{port}/ -> {out} (Ctrl-C or SIGTERM stops after in-flight batches)",
               err=True)
    if not tls_cert and host not in ("127.0.0.1", "::1", "localhost"):
        click.echo("receive: warning: no --tls-cert: the token and the logs cross the network in clear text",
                   err=True)
    serve(settings, host, port, tls_cert=tls_cert, tls_key=tls_key, max_concurrency=max_concurrency,
          shutdown_timeout=shutdown_timeout, log=lambda m: click.echo(f"receive: {m}", err=True))
