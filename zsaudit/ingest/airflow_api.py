"""A live Airflow's REST API as an Airflow source (v2 on Airflow 3, v1 on Airflow 2.x).

`fetch(url, mirror, since, until)` pulls, for the period, every task instance whose latest try
ended at or after `since` and started before `until` (`/dags/~/dagRuns/~/taskInstances`, paged),
every try of those retried (`.../tries`), and each try's task log (`.../logs/{try_number}`:
JSON `content` with continuation tokens on v2, text on v1). Each fetched document is written into
a local mirror, in Airflow's default log layout for the logs and as one REST task-instance
export for the tries, and the caller ingests those files like any others: hashed in the ledger,
loaded once, fused into task_attempts (source `rest_api` for the metadata, `log` for the logs).

Incremental: a finished try whose log is in the mirror is not fetched again, and the tries of a
task instance are fetched again only when the instance changed (state, try, end or update time).

Concurrent and bounded: the listing's pages after the first, the tries and the logs are fetched by
a pool of ZSAUDIT_AIRFLOW_API_WORKERS threads (default 4, at most 32), each request with the
client's retries and backoff; a 429 or 503 with Retry-After pauses every worker, not only the
one that got it. At most two requests per worker are queued at once, a log is written to the
mirror by the thread that fetched it, and each page of the listing is done with (its tries
compared, its logs fetched, its tries spilled to the export in sorted runs) before the pages after
the next few are asked for: memory holds a few pages, a few logs and one run of the export, however
many task instances the period has.

Credentials never come from the command line: ZSAUDIT_AIRFLOW_TOKEN (a bearer token), or
ZSAUDIT_AIRFLOW_USER + ZSAUDIT_AIRFLOW_PASSWORD (Airflow 3: exchanged at /auth/token; Airflow 2:
basic auth), or a secrets file (TOML with `token`, or `user` and `password`) named by
ZSAUDIT_AIRFLOW_SECRETS_FILE or `airflow.api_secrets_file`. They are sent only to the API's own
origin and never written to a message, the ledger or the mirror.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import os
import random
import shutil
import ssl
import time
import threading
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import BadInput, BadUsage
from ..progress import QUIET, Progress
from ..timeutil import iso_z

ENV_TOKEN = "ZSAUDIT_AIRFLOW_TOKEN"
ENV_USER = "ZSAUDIT_AIRFLOW_USER"
ENV_PASSWORD = "ZSAUDIT_AIRFLOW_PASSWORD"
ENV_SECRETS = "ZSAUDIT_AIRFLOW_SECRETS_FILE"
ENV_CA_BUNDLE = "ZSAUDIT_AIRFLOW_CA_BUNDLE"
ENV_WORKERS = "ZSAUDIT_AIRFLOW_API_WORKERS"
RETRY_STATUS = {429, 500, 502, 503, 504}
FINISHED = {"success", "failed", "skipped", "upstream_failed", "up_for_retry", "up_for_reschedule", "removed"}
PAGE = 100
WORKERS = 4          # requests in flight at once (ZSAUDIT_AIRFLOW_API_WORKERS)
MAX_WORKERS = 32


def workers_from_env(environ=None) -> int:
    raw = (os.environ if environ is None else environ).get(ENV_WORKERS, "").strip()
    if not raw:
        return WORKERS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise BadUsage(f"{ENV_WORKERS}={raw!r}: expected a whole number of parallel requests from 1 to {MAX_WORKERS}")
    return int(raw)


def _iso(t):
    return iso_z(t, "seconds")   # this module's precision of timeutil.iso_z



def is_api_url(text: str) -> bool:
    return str(text).startswith(("http://", "https://"))


class ApiUnavailable(BadInput):
    """The API did not answer (timeouts, 429, 5xx after every retry): worth a later retry."""

    retryable = True


@dataclass
class Credentials:
    token: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never print a secret
        return f"Credentials(token={'***' if self.token else None}, user={self.user!r})"

    @classmethod
    def load(cls, environ=None, secrets_file: str | None = None) -> "Credentials":
        env = os.environ if environ is None else environ
        path = secrets_file or env.get(ENV_SECRETS)
        if path:
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BadUsage(f"{path}: cannot read the Airflow API secrets file ({type(exc).__name__}); "
                               "expected TOML with token = \"...\" or user = \"...\" and password = \"...\"") from None
            creds = cls(token=data.get("token"), user=data.get("user"), password=data.get("password"))
            if not creds.token and not (creds.user and creds.password):
                raise BadUsage(f"{path}: the Airflow API secrets file names neither 'token' nor 'user' and 'password'")
            return creds
        return cls(token=env.get(ENV_TOKEN) or None, user=env.get(ENV_USER) or None,
                   password=env.get(ENV_PASSWORD) or None)


class Client:
    """HTTP(S) to one Airflow API server: auth, retries with backoff, paging. Standard library only."""

    def __init__(self, base_url: str, credentials: Credentials | None = None, *, ca_bundle: str | None = None,
                 timeout: float = 30.0, retries: int = 5, backoff: float = 0.5, workers: int | None = None):
        parts = urllib.parse.urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadUsage(f"{base_url}: not an Airflow URL (expected https://host[:port][/prefix])")
        if parts.username or parts.password:
            raise BadUsage(f"{parts.hostname}: put no credentials in the URL; set {ENV_TOKEN}, or {ENV_USER} "
                           f"and {ENV_PASSWORD}, or {ENV_SECRETS}")
        self.base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self.credentials = credentials or Credentials()
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        context = None
        if parts.scheme == "https":
            ca_bundle = ca_bundle or os.environ.get(ENV_CA_BUNDLE)
            try:
                context = ssl.create_default_context(cafile=ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise BadUsage(f"{ca_bundle}: cannot use as a CA bundle ({exc})") from None
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        self._token: str | None = None
        self.version: int | None = None
        self.requests = 0
        self.workers = workers_from_env() if workers is None else max(1, min(int(workers), MAX_WORKERS))
        self._lock = threading.Lock()          # the request counter, the pause
        self._token_lock = threading.Lock()
        self._paused_until = 0.0               # monotonic: a server's Retry-After holds every worker

    # -- plumbing ------------------------------------------------------------------------------
    def url(self, path: str, params: dict | None = None) -> str:
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        return f"{self.base}{path}" + (f"?{query}" if query else "")

    def _open(self, method: str, path: str, params=None, body=None, headers=None, auth=True) -> tuple[bytes, dict]:
        url = self.url(path, params)
        shown = f"{self.base}{path}"   # messages name the endpoint, not its query or credentials
        refreshed = False
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                         method=method)
            req.add_header("Accept", "application/json")
            if body is not None:
                req.add_header("Content-Type", "application/json")
            for k, v in (headers or {}).items():
                req.add_header(k, v)
            if auth:
                authorization = self._authorization()
                if authorization:
                    req.add_header("Authorization", authorization)
            self._wait_for_pause()
            with self._lock:
                self.requests += 1
            try:
                with self._opener.open(req, timeout=self.timeout) as resp:
                    return resp.read(), dict(resp.headers.items())
            except urllib.error.HTTPError as exc:
                exc.read()
                if exc.code == 401 and auth and self._token and self.credentials.user and not refreshed:
                    self._token, refreshed = None, True   # an expired JWT: exchange the password again
                    continue
                if exc.code in (401, 403):
                    raise BadUsage(f"{shown}: HTTP {exc.code} ({'not authenticated' if exc.code == 401 else 'forbidden'}); "
                                   f"set {ENV_TOKEN}, or {ENV_USER} and {ENV_PASSWORD}, or {ENV_SECRETS}, "
                                   "for a user allowed to read DAG runs, task instances and task logs") from None
                if exc.code in RETRY_STATUS and attempt < self.retries:
                    self._sleep(attempt, exc.headers.get("Retry-After"))
                    continue
                if exc.code in RETRY_STATUS:
                    raise ApiUnavailable(f"{shown}: HTTP {exc.code} after {self.retries + 1} tries") from None
                raise _HttpError(shown, exc.code) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, ssl.SSLError):
                    raise BadUsage(f"{shown}: TLS failed ({reason}); pass the server's CA with --ca-bundle "
                                   f"or {ENV_CA_BUNDLE}") from None
                if attempt < self.retries:
                    self._sleep(attempt, None)
                    continue
                raise ApiUnavailable(f"{shown}: no answer after {self.retries + 1} tries ({reason})") from None
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        try:
            delay = float(retry_after) if retry_after else None
        except ValueError:
            delay = None
        if delay is not None:   # the server asked for a pause: the other workers honour it too
            with self._lock:
                self._paused_until = max(self._paused_until, time.monotonic() + min(delay, 60.0))
        else:
            delay = self.backoff * (2 ** attempt) * (1 + random.random() / 4)
        time.sleep(min(delay, 60.0))

    def _wait_for_pause(self) -> None:
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _authorization(self) -> str | None:
        c = self.credentials
        if c.token:
            return f"Bearer {c.token}"
        if not (c.user and c.password):
            return None
        if self.version == 1:
            return "Basic " + base64.b64encode(f"{c.user}:{c.password}".encode()).decode()
        with self._token_lock:   # one exchange, however many workers need a token at once
            if self._token is None:
                data, _ = self._open("POST", "/auth/token", body={"username": c.user, "password": c.password},
                                     auth=False)
                self._token = json.loads(data)["access_token"]
            return f"Bearer {self._token}"

    def get_json(self, path: str, params: dict | None = None):
        data, _ = self._open("GET", path, params)
        try:
            return json.loads(data)
        except ValueError:
            raise BadInput(f"{self.base}{path}: the answer is not JSON; is {self.base} an Airflow API server?") from None

    def get_text(self, path: str, params: dict | None = None) -> bytes:
        return self._open("GET", path, params, headers={"Accept": "text/plain"})[0]

    # -- Airflow -------------------------------------------------------------------------------
    @property
    def api(self) -> str:
        return "/api/v2" if self.version == 2 else "/api/v1"

    def detect(self) -> int:
        """2 (Airflow 3) or 1 (Airflow 2.x), by which health endpoint answers (neither needs auth)."""
        for version, path in ((2, "/api/v2/monitor/health"), (1, "/api/v1/health")):
            try:
                self._open("GET", path, auth=False)
                self.version = version
                return version
            except _HttpError:
                continue
        raise BadUsage(f"{self.base}: no Airflow REST API here (neither /api/v2/monitor/health nor "
                       "/api/v1/health answered); give the Airflow web/API server's base URL")

    def pages(self, path: str, key: str, params: dict, pool: ThreadPoolExecutor | None = None) -> list[dict]:
        """Every item of a paged collection, as one list (for short collections: a task's tries)."""
        return [item for page in self.iter_pages(path, key, params, pool) for item in page]

    def iter_pages(self, path: str, key: str, params: dict, pool: ThreadPoolExecutor | None = None):
        """The items of a paged collection, one page at a time (only a window of pages is held).
        With a pool, the pages after the first (whose total_entries says how many there are) are
        fetched concurrently, in order; then, as without one, pages are read on until one comes
        back short (a collection that grew)."""
        first = self.get_json(path, {**params, "limit": PAGE, "offset": 0})
        items = list(first.get(key) or [])
        total = int(first.get("total_entries") or 0)
        offset = len(items)
        yield items
        if pool is not None and items and total > offset:
            fetch_page = lambda off: self.get_json(path, {**params, "limit": PAGE, "offset": off})  # noqa: E731
            for page in bounded_map(pool, fetch_page, range(offset, total, PAGE), 2 * self.workers):
                items = page.get(key) or []
                offset += len(items)
                yield items
        while items and offset < total:
            page = self.get_json(path, {**params, "limit": PAGE, "offset": offset})
            items = page.get(key) or []
            offset += len(items)
            total = int(page.get("total_entries") or 0)
            yield items


def bounded_map(pool: ThreadPoolExecutor, fn, items, window: int):
    """pool.map with at most `window` calls submitted and not yet consumed (results in order):
    memory stays bounded however many items there are."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class _HttpError(BadInput):
    def __init__(self, shown: str, code: int):
        super().__init__(f"{shown}: HTTP {code}")
        self.code = code


def _q(value) -> str:
    return urllib.parse.quote(str(value), safe="")



def _ti_path(api: str, ti: dict) -> str:
    run_id = ti.get("dag_run_id") or ti.get("run_id")
    return f"{api}/dags/{_q(ti['dag_id'])}/dagRuns/{_q(run_id)}/taskInstances/{_q(ti['task_id'])}"


def _fingerprint(ti: dict) -> str:
    keys = ("try_number", "state", "start_date", "end_date", "updated_at", "hostname")
    return hashlib.sha256(json.dumps([ti.get(k) for k in keys], default=str).encode()).hexdigest()[:16]


@dataclass
class Fetched:
    """What fetch() left in the mirror for the caller to ingest."""

    export: Path | None                 # the tries, as one REST task-instance export
    logs: list[Path] = field(default_factory=list)
    task_instances: int = 0
    attempts: int = 0
    logs_fetched: int = 0
    logs_cached: int = 0
    requests: int = 0
    warnings: list[str] = field(default_factory=list)


def mirror_dir(root: Path, base_url: str) -> Path:
    """Where the documents of one API server are kept (one folder per scheme, host and port)."""
    parts = urllib.parse.urlsplit(base_url)
    name = f"{parts.scheme}_{parts.hostname}_{parts.port or ''}{parts.path.replace('/', '_')}".rstrip("_")
    return root / name


def fetch(client: Client, mirror: Path, since: datetime, until: datetime, *,
          progress: Progress = QUIET) -> Fetched:
    if client.version is None:
        client.detect()
    api = client.api
    with ThreadPoolExecutor(max_workers=client.workers, thread_name_prefix="zsaudit-api") as pool:
        return _fetch(client, api, pool, mirror, since, until, progress)


def _fetch(client: Client, api: str, pool: ThreadPoolExecutor, mirror: Path, since: datetime, until: datetime,
           progress: Progress) -> Fetched:
    """Each listing page is compared with the mirror as it arrives: its tries fetched (or read
    from the mirror's cache), their logs fetched, and the tries spilled to the export; memory
    holds a page and a run of the export, whatever the number of task instances."""
    logs_root = (mirror / "logs").resolve()
    end_key = "start_date_lt" if client.version == 2 else "start_date_lte"
    tries_cache = mirror / "tries"
    window = 2 * client.workers
    result = Fetched(export=mirror / "task_instances" / f"{_iso(since)}--{_iso(until)}.json".replace(":", ""))

    def fetch_log(item: tuple[dict, Path]) -> tuple[Path, str | None]:
        t, path = item
        try:
            data = _log_bytes(client, api, t)
        except _HttpError as exc:
            if exc.code != 404:
                raise
            return path, (f"{exc}: Airflow has no log for try {t.get('try_number')} of task "
                          f"{t.get('task_id')!r} in run {t.get('dag_run_id')!r}")
        _write_atomic(path, data)
        return path, None

    with _SortedExport(result.export) as export:
        listing = client.iter_pages(f"{api}/dags/~/dagRuns/~/taskInstances", "task_instances",
                                    {"end_date_gte": _iso(since), end_key: _iso(until)}, pool=pool)
        for page in listing:
            result.task_instances += len(page)
            todo: list[tuple[dict, Path]] = []
            for tries in bounded_map(pool, lambda ti: _tries(client, api, ti, tries_cache), page, window):
                for t in tries:
                    export.add(t)
                    if not t.get("start_date") or not t.get("try_number"):
                        continue                   # never ran (no try, no log)
                    path = _log_path(logs_root, t)
                    if path is None:
                        result.warnings.append(
                            f"{client.base}: task {t.get('task_id')!r} of run {t.get('dag_run_id')!r}: "
                            "ids that cannot name a file; its log is not fetched")
                    elif path.exists() and t.get("state") in FINISHED and t.get("end_date"):
                        result.logs.append(path)
                        result.logs_cached += 1
                    else:
                        todo.append((t, path))
            # one log per request, `client.workers` in flight; each is written by the thread that fetched it
            for path, warning in bounded_map(pool, fetch_log, todo, window):
                if warning:
                    result.warnings.append(warning)
                else:
                    result.logs.append(path)
                    result.logs_fetched += 1
        result.attempts = export.count
    progress.log(f"{client.base}: {result.task_instances} task instances in {_iso(since)} .. {_iso(until)} "
                 f"(REST API v{client.version})")
    result.requests = client.requests
    progress.log(f"{client.base}: {result.attempts} attempts, {result.logs_fetched} logs fetched, "
                 f"{result.logs_cached} already in {mirror} ({result.requests} HTTP requests, "
                 f"up to {client.workers} at once)")
    return result


def _attempt_key(t: dict) -> str:
    """The export's order (dag, run, task, map index, try), as text that sorts the same way."""
    mi, tn = t.get("map_index"), t.get("try_number")
    return json.dumps([str(t.get("dag_id")), str(t.get("dag_run_id") or t.get("run_id")), str(t.get("task_id")),
                       # offset so that the numbers sort as text: -1 (unmapped) first
                       f"{int(mi if mi is not None else -1) + 1:012d}", f"{int(tn or 0):012d}"])


class _SortedExport:
    """The tries as one REST task-instance export ({"task_instances": [...], "total_entries": N}),
    sorted by attempt, written with bounded memory: runs of RUN tries are sorted and spilled to
    temporary files, then merged into the export, which replaces the old one atomically."""

    RUN = 2000

    def __init__(self, path: Path):
        self.path, self.count = path, 0
        self.buffer: list[tuple[str, str]] = []
        self.runs: list[Path] = []
        self.tmp = path.parent / f".{path.name}.runs-{os.getpid()}"

    def __enter__(self) -> "_SortedExport":
        return self

    def add(self, t: dict) -> None:
        self.buffer.append((_attempt_key(t), json.dumps(t, sort_keys=True, separators=(",", ":"), default=str)))
        self.count += 1
        if len(self.buffer) >= self.RUN:
            self._spill()

    def _spill(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        run = self.tmp / f"{len(self.runs):06d}"
        self.buffer.sort()
        with open(run, "w", encoding="utf-8") as out:
            out.writelines(f"{key}\t{item}\n" for key, item in self.buffer)
        self.runs.append(run)
        self.buffer = []

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if kind is None:
                self._write()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _write(self) -> None:
        self.buffer.sort()
        files = [open(run, encoding="utf-8") for run in self.runs]
        try:
            # JSON and the key text escape tabs and newlines: each line is `key<TAB>item`
            runs = [(tuple(line.rstrip("\n").split("\t", 1)) for line in f) for f in files]
            merged = heapq.merge(*runs, self.buffer)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
            with open(tmp, "w", encoding="utf-8") as out:
                out.write('{"task_instances": [\n')
                for i, (_, item) in enumerate(merged):
                    out.write(item if i == 0 else ",\n" + item)
                out.write(f'\n], "total_entries": {self.count}}}\n')
            os.replace(tmp, self.path)
        finally:
            for f in files:
                f.close()


def _tries(client: Client, api: str, ti: dict, cache: Path) -> list[dict]:
    """Every try of a task instance; the instance itself when it has only one."""
    if int(ti.get("try_number") or 0) <= 1:
        return [ti]
    mi = ti.get("map_index", -1)
    key = hashlib.sha256(json.dumps([ti["dag_id"], ti.get("dag_run_id"), ti["task_id"], mi]).encode()).hexdigest()
    cached = cache / f"{key[:32]}.json"
    fp = _fingerprint(ti)
    if cached.exists():
        doc = json.loads(cached.read_text(encoding="utf-8"))
        if doc.get("fingerprint") == fp:
            return doc["task_instances"]
    base = _ti_path(api, ti)
    path = f"{base}/{int(mi)}/tries" if mi is not None and int(mi) >= 0 else f"{base}/tries"
    tries = client.pages(path, "task_instances", {})
    for t in tries:   # /tries items of v1 lack the run id in some versions
        t.setdefault("dag_run_id", ti.get("dag_run_id"))
    if not any(int(t.get("try_number") or 0) == int(ti["try_number"]) for t in tries):
        tries.append(ti)
    _write_atomic(cached, json.dumps({"fingerprint": fp, "task_instances": tries}, default=str).encode())
    return tries


def _log_path(root: Path, t: dict) -> Path | None:
    """Airflow's default log_filename_template, inside the mirror (hostile ids cannot leave it)."""
    parts = [f"dag_id={t['dag_id']}", f"run_id={t.get('dag_run_id') or t.get('run_id')}", f"task_id={t['task_id']}"]
    mi = t.get("map_index", -1)
    if mi is not None and int(mi) >= 0:
        parts.append(f"map_index={int(mi)}")
    parts.append(f"attempt={int(t['try_number'])}.log")
    if any("/" in p or "\\" in p or p in (".", "..") or "\x00" in p for p in parts):
        return None
    path = root.joinpath(*parts)
    return path if path.resolve().is_relative_to(root) else None


def _log_bytes(client: Client, api: str, t: dict) -> bytes:
    """One try's task log as Airflow wrote it: JSON lines (Airflow 3), text (Airflow 2)."""
    path = f"{_ti_path(api, t)}/logs/{int(t['try_number'])}"
    mi = t.get("map_index", -1)
    params = {"full_content": "true", "map_index": int(mi) if mi is not None else -1}
    if client.version == 1:
        text = client.get_text(path, params).decode("utf-8", errors="replace")
        # the log reader's own banner ("*** Found local files: ...") is not part of the task log
        lines = text.splitlines()
        while lines and lines[0].startswith("***"):
            lines.pop(0)
        return ("\n".join(lines) + "\n").encode() if lines else b""
    out: list[str] = []
    token = None
    for _ in range(10_000):
        page = client.get_json(path, {**params, "token": token})
        content = page.get("content") or []
        out.extend(_log_line(entry) for entry in _without_banner(content))
        token = page.get("continuation_token")
        if not token or not content:
            break
    return ("\n".join(out) + "\n").encode() if out else b""


def _without_banner(content: list) -> list:
    """Drop the log reader's "Log message source details" group (which files or remote objects it
    read: not part of the task log; Airflow 3 puts it first)."""
    out, skipping = [], False
    for entry in content:
        event = entry.get("event") if isinstance(entry, dict) else entry
        if not out and not skipping and str(event).startswith("::group::Log message source details"):
            skipping = True
            continue
        if skipping:
            skipping = event != "::endgroup::"
            continue
        out.append(entry)
    return out


def _log_line(entry) -> str:
    if isinstance(entry, dict):
        return json.dumps(entry, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(entry)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
