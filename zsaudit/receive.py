"""`zsaudit receive`: a Cloud NSS (HTTPS, Splunk-HEC style) receiver that lands each batch on disk
for `zsaudit ingest zscaler`.

A minimal ASGI app served by uvicorn (the `receive` extra). Per POST (any path: Cloud NSS posts to
the URL its feed names, e.g. /services/collector/raw):

- auth first: `Authorization: Bearer <token>` or `Splunk <token>`, the token compared in constant
  time with ZSAUDIT_RECEIVE_TOKEN; else 401 and the body is not read;
- the body streams in (gzip by Content-Encoding or by its magic bytes, or plain) into a hidden
  temporary file beside its final name, as received; gzip is inflated on the side only to check
  it, with a cap on the inflated size (a gzip bomb gets 413 as soon as it passes the cap), and a
  raw body over --max-body gets 413. Memory per request: one read buffer and one inflate window;
- the batch must be JSON lines (every non-blank line an object: `{` ... `}`) or one JSON array of
  objects (checked whole by DuckDB, which streams). Anything else is 400 and the body is kept
  under OUT/.rejected/ with the reason, never dropped. Single records that are not valid JSON
  (NSS's unescaped quotes) are left to the ingest, which repairs or rejects them line by line;
- accepted: fsync the file, rename it to OUT/YYYY-MM-DD/HH/<receipt time>-<random>.json[.gz],
  fsync the directory, then 200. A batch file is never appended to, so its sha256 is fixed and a
  retried batch (same bytes) is skipped by the ingest's ledger; half-written files are hidden
  (".name.part") and the ingest skips hidden names and folders.

GET /health answers 200 without auth. uvicorn's graceful shutdown (SIGTERM / Ctrl-C) stops
accepting and lets in-flight batches finish (--shutdown-timeout).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
import secrets
import signal
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import queries

TOKEN_ENV = "ZSAUDIT_RECEIVE_TOKEN"
MAX_BODY = 16 << 20                 # bytes as sent (gzip'd or not)
MAX_INFLATED = 128 << 20            # bytes once inflated: below ingest's whole-JSON-array limit
MAX_LINE = 1 << 20                  # one JSON-lines record
WRITE_BUFFER = 1 << 20              # received bytes gathered before a write (off the event loop)
INFLATE_STEP = 1 << 20
PART_MAX_AGE = 3600                 # leftover .part files of a killed receiver older than this go
_GZIP = b"\x1f\x8b"
# a line that is neither blank nor starts with "{" / whose last visible character is not "}"
_BAD_START = re.compile(rb"^(?![ \t\r]*(?:\{|$))", re.M)
_BAD_END = re.compile(rb"[^}\s][ \t\r]*$", re.M)
_RECORD = re.compile(rb"^[ \t\r]*\{", re.M)


class Rejected(Exception):
    """The batch is refused with `status` and a plain reason (sent back and, for 400/413, kept)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Settings:
    out: Path
    token: str
    max_body: int = MAX_BODY
    max_inflated: int = MAX_INFLATED


# -- one batch on disk ----------------------------------------------------------------------------
class Batch:
    """A POST body on its way to disk: written as received into a hidden .part file, inflated on
    the side (when gzip'd) to check its framing, renamed into place by `commit()`."""

    def __init__(self, settings: Settings, gzipped: bool):
        self.settings = settings
        self.gzipped = gzipped
        now = datetime.now(timezone.utc)
        self.folder = settings.out / now.strftime("%Y-%m-%d") / now.strftime("%H")
        self.name = f"{now.strftime('%Y%m%dT%H%M%S.%f')}Z-{secrets.token_hex(6)}.json" + (".gz" if gzipped else "")
        _make_dirs(self.folder, settings.out)
        self.part = self.folder / f".{self.name}.part"
        self.fh = open(self.part, "xb")
        self.raw = 0
        self.inflated = 0
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        self.kind: str | None = None        # "lines" or "array"
        self.carry = b""
        self.last = b""                     # last visible byte (arrays must end with "]")
        self.records = 0

    def feed(self, data: bytes) -> None:
        self.raw += len(data)
        if self.raw > self.settings.max_body:
            raise Rejected(413, f"body larger than {self.settings.max_body} bytes; send smaller batches")
        self.fh.write(data)
        if self.inflater is None:
            self._check(data)
            return
        while data:
            try:
                out = self.inflater.decompress(data, INFLATE_STEP)
            except zlib.error as exc:
                raise Rejected(400, f"not a valid gzip body ({exc})") from None
            self._check(out)
            data = self.inflater.unconsumed_tail
            if self.inflater.eof and self.inflater.unused_data:
                rest = self.inflater.unused_data           # another gzip member follows
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = rest + data

    def _check(self, text: bytes) -> None:
        if not text:
            return
        self.inflated += len(text)
        if self.inflated > self.settings.max_inflated:
            raise Rejected(413, f"body inflates to more than {self.settings.max_inflated} bytes; "
                                "send smaller batches")
        if b"\x00" in text:
            raise Rejected(400, "binary content (NUL bytes); expected JSON lines or a JSON array")
        if self.kind is None:
            head = (self.carry + text).lstrip(b"\xef\xbb\xbf \t\r\n")
            if not head:
                self.carry = b""
                return
            if head[:1] == b"{":
                self.kind = "lines"
            elif head[:1] == b"[":
                self.kind = "array"
            else:
                raise Rejected(400, f"the body starts with {head[:20]!r}; expected JSON lines "
                                    "(one object per line) or a JSON array of objects")
        stripped = text.rstrip()
        if stripped:
            self.last = stripped[-1:]
        if self.kind == "array":
            return
        buf = self.carry + text
        cut = buf.rfind(b"\n")
        if cut < 0:
            if len(buf) > MAX_LINE:
                raise Rejected(400, f"a line longer than {MAX_LINE} bytes; expected one JSON object per line")
            self.carry = buf
            return
        self._lines(buf[:cut + 1])
        self.carry = buf[cut + 1:]

    def _lines(self, block: bytes) -> None:
        """Whole lines (ending in a newline): every non-blank one must be `{...}`. Counted with
        bytes.count (C speed); the regexes run only when the counts leave a doubt (whitespace
        around records, several blank lines in a row, or a bad line to name)."""
        text = block.replace(b"\r", b"") if b"\r" in block else block
        lines = text.count(b"\n")
        blank = text.count(b"\n\n") + text.startswith(b"\n")          # never more than the real number
        opened = text.count(b"\n{") + text.startswith(b"{")
        if opened == text.count(b"}\n") == lines - blank:
            self.records += opened
            return
        bad = _BAD_START.search(block) or _BAD_END.search(block)
        if bad:
            line = block.count(b"\n", 0, bad.start()) + 1
            raise Rejected(400, f"record {self.records + line} is not a JSON object on one line "
                                "(expected every line to start with '{' and end with '}')")
        self.records += len(_RECORD.findall(block))

    def finish(self) -> int:
        """Check the end of the body, then make it durable and visible. Returns records."""
        if self.inflater is not None and not self.inflater.eof:
            raise Rejected(400, "truncated gzip body")
        if self.kind == "lines" and self.carry.strip():
            self._lines(self.carry + b"\n")
        if self.kind is None:
            raise Rejected(400, "empty body; expected JSON lines or a JSON array")
        self.fh.flush()
        if self.kind == "array":
            if self.last != b"]":
                raise Rejected(400, "a JSON array that does not end with ']'")
            self.records = _array_records(self.part, self.gzipped)
        os.fsync(self.fh.fileno())
        self.fh.close()
        final = self.folder / self.name
        os.rename(self.part, final)
        _DIR_SYNC.sync(self.folder)
        return self.records

    def discard(self, keep: Path | None = None) -> None:
        """Drop the .part file, or move it to `keep` (a refused body, kept aside as received)."""
        self.fh.close()
        if keep is not None:
            os.rename(self.part, keep)
            _fsync_dir(keep.parent)
        else:
            self.part.unlink(missing_ok=True)


def _array_records(path: Path, gzipped: bool) -> int:
    """Objects in a JSON array, read by DuckDB (streaming, bounded): 400 if it is not one."""
    import duckdb

    con = _ARRAYS.cursor()
    try:
        return queries.scalar(con, "receive/array_records",
                              {"path": str(path), "compression": "gzip" if gzipped else "none"})
    except duckdb.Error as exc:
        text = str(exc).splitlines()[0][:300]
        raise Rejected(400, f"not a JSON array of objects ({text})") from None
    finally:
        con.close()


class _ArrayChecker:
    """The DuckDB instance that checks JSON arrays: one per receiver process, made at the first
    array (an instance costs ~35-45 ms CPU to make, the check of a small array a few ms); each
    check gets a connection of its own to it (batches are checked on several threads at once),
    closed after it. A forked child makes its own."""

    def __init__(self):
        self.lock = threading.Lock()
        self.con = None
        self.pid = 0

    def cursor(self):
        import duckdb

        with self.lock:
            if self.con is None or self.pid != os.getpid():
                con = duckdb.connect()
                queries.set_option(con, "threads", 1)
                self.con, self.pid = con, os.getpid()
            return self.con.cursor()


_ARRAYS = _ArrayChecker()


def _make_dirs(folder: Path, root: Path) -> None:
    """Create folder (and parents up to root), fsyncing each new entry's parent."""
    missing = []
    p = folder
    while not p.exists() and p != root and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        _fsync_dir(d.parent)


class _GroupSync:
    """fsync of a folder shared by the batches renamed into it meanwhile (group commit): a
    caller returns once an fsync that started after its rename has finished, so concurrent
    batches in the same hour folder pay for one directory fsync instead of one each."""

    def __init__(self):
        self.cond = threading.Condition()
        self.state: dict[Path, list] = {}          # folder -> [renames registered, renames synced, syncing]

    def sync(self, folder: Path) -> None:
        with self.cond:
            st = self.state.setdefault(folder, [0, 0, False])
            st[0] += 1
            mine = st[0]
            while st[1] < mine:
                if st[2]:
                    self.cond.wait()
                    continue
                st[2], target = True, st[0]
                self.cond.release()
                try:
                    _fsync_dir(folder)
                finally:
                    self.cond.acquire()
                    st[2] = False
                    self.cond.notify_all()
                st[1] = max(st[1], target)
            if len(self.state) > 64:               # old hour folders do not pile up
                for idle in [f for f, v in self.state.items() if not v[2] and v[0] == v[1]]:
                    del self.state[idle]


_DIR_SYNC = _GroupSync()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def keep_rejected(out: Path, status: int, reason: str, batch: Batch | None, headers: dict, peer: str) -> Path:
    """A refused batch under OUT/.rejected/YYYY-MM-DD/: <name>.body (as received, for a 400) and
    <name>.json (why, when, from whom). Hidden from the ingest. Returns the .json."""
    now = datetime.now(timezone.utc)
    folder = out / ".rejected" / now.strftime("%Y-%m-%d")
    _make_dirs(folder, out)
    stem = f"{now.strftime('%Y%m%dT%H%M%S.%f')}Z-{secrets.token_hex(6)}"
    kept = batch is not None and status == 400
    if batch is not None:
        batch.discard(folder / f"{stem}.body" if kept else None)
    meta = {"status": status, "reason": reason, "received_at": now.isoformat(), "peer": peer,
            "bytes_received": batch.raw if batch is not None else None,
            "body": f"{stem}.body" if kept else None,
            "headers": {k: v for k, v in headers.items() if k != "authorization"}}
    _write_durably(folder / f"{stem}.json", (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())
    return folder / f"{stem}.json"


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, path)
    _fsync_dir(path.parent)


def sweep_parts(out: Path, max_age: float = PART_MAX_AGE) -> int:
    """Remove .part files a killed receiver left behind (never acknowledged: safe to drop)."""
    removed, cutoff = 0, time.time() - max_age
    for part in out.rglob(".*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed += 1
        except OSError:
            continue
    return removed


# -- the ASGI app ---------------------------------------------------------------------------------
def authorized(header: str | None, token: str) -> bool:
    """`Bearer <token>` or `Splunk <token>` (HEC), compared in constant time."""
    if not header:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() not in ("bearer", "splunk"):
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class App:
    """The receiver as a plain ASGI application (uvicorn serves it)."""

    def __init__(self, settings: Settings, log=None):
        self.settings = settings
        self.log = log or (lambda message: None)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method in ("GET", "HEAD") and path.rstrip("/") in ("/health", "/services/collector/health"):
            await _respond(send, 200, {"text": "HEC is healthy", "code": 17})
            return
        if method != "POST":
            await _respond(send, 405, {"text": "POST batches here; GET /health", "code": 6},
                           extra=[(b"allow", b"POST")])
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        peer = "%s:%s" % tuple(scope.get("client") or ("?", "?"))
        if not authorized(headers.get("authorization"), self.settings.token):
            self.log(f"401 from {peer}: missing or wrong token")
            await _respond(send, 401, {"text": "Invalid authorization", "code": 4})
            return
        status, body = await self._batch(receive, headers, peer)
        await _respond(send, status, body)

    async def _batch(self, receive, headers: dict, peer: str) -> tuple[int, dict]:
        encoding = headers.get("content-encoding", "").strip().lower()
        length = headers.get("content-length", "")
        if encoding not in ("", "identity", "gzip", "x-gzip"):
            return await self._refuse(400, f"Content-Encoding {encoding!r} not supported; send gzip or plain",
                                      None, headers, peer)
        if length.isdigit() and int(length) > self.settings.max_body:
            return await self._refuse(413, f"body of {length} bytes is larger than {self.settings.max_body}; "
                                           "send smaller batches", None, headers, peer)
        first = await _read(receive)
        if first is None:
            return 499, {}
        gzipped = encoding in ("gzip", "x-gzip") or first[0].startswith(_GZIP)
        batch = await asyncio.to_thread(Batch, self.settings, gzipped)
        try:
            pending, more = [first[0]], first[1]
            size = len(first[0])
            while True:
                if size >= WRITE_BUFFER or not more:
                    data = b"".join(pending)
                    pending, size = [], 0
                    await asyncio.to_thread(batch.feed, data)
                if not more:
                    break
                chunk = await _read(receive)
                if chunk is None:                        # the client went away: nothing acked
                    await asyncio.to_thread(batch.discard)
                    return 499, {}
                pending.append(chunk[0])
                size += len(chunk[0])
                more = chunk[1]
            records = await asyncio.to_thread(batch.finish)
        except Rejected as exc:                           # a 413 keeps the reason, not the bytes
            return await self._refuse(exc.status, exc.reason, batch, headers, peer)
        except BaseException:
            await asyncio.to_thread(batch.discard)
            raise
        return 200, {"text": "Success", "code": 0, "records": records}

    async def _refuse(self, status, reason, batch, headers, peer) -> tuple[int, dict]:
        kept = await asyncio.to_thread(keep_rejected, self.settings.out, status, reason, batch, headers, peer)
        self.log(f"{status} from {peer}: {reason} (kept: {kept})")
        return status, {"text": reason, "code": 6 if status == 400 else 27, "kept": kept.name}

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read(receive) -> tuple[bytes, bool] | None:
    message = await receive()
    if message["type"] == "http.disconnect":
        return None
    return message.get("body", b""), message.get("more_body", False)


async def _respond(send, status: int, payload: dict, extra=()) -> None:
    if status == 499:                                     # nobody to answer
        return
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *extra]})
    await send({"type": "http.response.body", "body": body})


# -- serving --------------------------------------------------------------------------------------
def serve(settings: Settings, host: str, port: int, *, tls_cert: str | None = None, tls_key: str | None = None,
          max_concurrency: int = 64, shutdown_timeout: float = 30.0, log=print) -> None:
    """Run until SIGTERM / SIGINT; in-flight batches finish first (up to shutdown_timeout)."""
    import uvicorn

    settings.out.mkdir(parents=True, exist_ok=True)
    swept = sweep_parts(settings.out)
    if swept:
        log(f"receive: removed {swept} unacknowledged .part files of an earlier run")
    config = uvicorn.Config(App(settings, log=log), host=host, port=port, ssl_certfile=tls_cert,
                            ssl_keyfile=tls_key, limit_concurrency=max_concurrency,
                            timeout_graceful_shutdown=shutdown_timeout, access_log=False,
                            log_level="warning", lifespan="on", server_header=False, date_header=True)
    # uvicorn shuts down gracefully on SIGTERM / SIGINT, then raises the signal again under the
    # handler it found; a handler that only notes it lets a clean stop exit 0
    stops: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _frame: stops.append(s)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log("stopped; every acknowledged batch is on disk")
