"""A real Apache Airflow (3.x, or 2.10 with AIRFLOW_VERSION=2.10.5) on 127.0.0.1 for the
`airflow`-marked tests.

What it does, once per test session:
  1. makes sure the Airflow venv ($ZSAUDIT_AIRFLOW_VENV, default `.venv-airflow`) holds
     apache-airflow==$AIRFLOW_VERSION, the HTTP provider and zsaudit itself (editable), installing
     it when missing or stale (cached between local runs);
  2. creates AIRFLOW_HOME in a temp dir, copies the DAGs in, runs `airflow db migrate`;
  3. starts the components as subprocesses in their own process groups, with NO_PROXY covering
     127.0.0.1 and localhost (otherwise the task supervisor's calls to the execution API go to a
     proxy, see shared/samples/airflow/NOTES.md §5). Airflow 3: api-server, scheduler and
     dag-processor, LocalExecutor, SQLite. Airflow 2: webserver and scheduler, SequentialExecutor
     (2.x refuses LocalExecutor on SQLite), REST API v1 with basic auth;
  4. lets the scheduler create the shipped DAG's own scheduled run (its real timetable), and
     triggers other runs through the REST API (v2 with a JWT from /auth/token; v1 basic auth);
  5. stops everything (SIGTERM to each process group, then SIGKILL) even when a test failed.

Beside Airflow it runs a loopback origin and a loopback forward proxy (threads of the test
process), so the test DAG's HTTP calls go somewhere real and leave access logs.

Fixtures other test files use (registered in tests/conftest.py):
  airflow_server      the running AirflowServer (home, logs_dir, db_path, api helpers)
  airflow_test_run    AirflowRun of DAG `zsaudit_test` (fixtures/airflow_dags/zsaudit_test_dag.py)
  airflow_nightly_run AirflowRun of the shipped DAG `zsaudit_nightly` for the synthetic night
Only the standard library is imported here: conftest.py imports this module on every test run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
AIRFLOW_VERSION = os.environ.get("AIRFLOW_VERSION", "3.3.2")
AIRFLOW_MAJOR = int(AIRFLOW_VERSION.split(".")[0])
API = "/api/v2" if AIRFLOW_MAJOR >= 3 else "/api/v1"
requires_airflow3 = pytest.mark.skipif(AIRFLOW_MAJOR < 3, reason=f"Airflow 3 only (running {AIRFLOW_VERSION})")
# Held while zsaudit is built as an editable install (editable_build_lock; the Makefile's flock)
EDITABLE_BUILD_LOCK = ROOT / ".editable-build.lock"
TEST_DAG_ID = "zsaudit_test"
NIGHTLY_DAG_ID = "zsaudit_nightly"
LOOPBACK_NO_PROXY = "127.0.0.1,localhost,::1"
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
               "no_proxy", "NO_PROXY")
_TERMINAL = {"success", "failed"}
# A third synthetic night in the session's nightly store, audited by no run but the busy-store
# retry test's (tests/test_airflow_exit_codes.py): its pack is written by that run only.
RETRY_DAY = "2026-11-21"
# The shipped DAG's first retry delay (ZSAUDIT_DAG_RETRY_DELAY, seconds; production default 60):
# retries seconds apart, not minutes, so that the retry test is quick.
TEST_RETRY_DELAY = "5"


# -- the venv ----------------------------------------------------------------------------------
def venv_path() -> Path:
    return Path(os.environ.get("ZSAUDIT_AIRFLOW_VENV") or ROOT / ".venv-airflow")


def _stamp_text() -> str:
    pyproject = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"apache-airflow=={AIRFLOW_VERSION}\napache-airflow-providers-http\nzsaudit -e {ROOT} {pyproject}\n"


def ensure_airflow_venv(venv: Path | None = None) -> Path:
    """The Airflow venv, installed on first use and reused while the stamp matches."""
    venv = venv or venv_path()
    venv.parent.mkdir(parents=True, exist_ok=True)
    stamp = venv / ".zsaudit-stamp"
    lock_path = Path(tempfile.gettempdir()) / f"zsaudit-airflow-venv-{hashlib.sha256(str(venv).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest workers must not install at once
        if stamp.exists() and stamp.read_text() == _stamp_text() and (venv / "bin" / "airflow").exists():
            return venv
        if not (venv / "bin" / "python").exists():
            # the interpreter running the tests: new enough for zsaudit (editable in the venv)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = installer(venv)
        # uv resolves Airflow with zsaudit's own dependencies (read from pyproject.toml, no build),
        # so that the build below, which holds the lock, installs zsaudit alone
        deps = ["-r", str(ROOT / "pyproject.toml")] if install[0].endswith("uv") else []
        subprocess.run(install + [f"apache-airflow=={AIRFLOW_VERSION}", "apache-airflow-providers-http", *deps],
                       check=True, env=_clean_env())
        with editable_build_lock():
            subprocess.run(install + ["-e", str(ROOT)], check=True, env=_clean_env())
        stamp.write_text(_stamp_text())
    return venv


def installer(venv: Path) -> list[str]:
    """The install command for the venv: uv (the test extra's, beside the running interpreter)
    when there, else the venv's own pip. uv resolves and downloads in parallel and links from its
    cache: an Airflow venv in ~30 s instead of ~2 minutes of pip. It compiles the bytecode at
    install, as pip does (the suites' many Airflow processes would otherwise each compile what
    they import, at once). uv reads PyPI only: not pip.conf's extra indexes or constraints."""
    uv = Path(sys.executable).parent / "uv"
    if uv.exists():
        return [str(uv), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(venv / "bin" / "python")]
    return [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]


@contextlib.contextmanager
def editable_build_lock():
    """Held while zsaudit is built as an editable install: the build (setuptools) rewrites
    zsaudit.egg-info/ in the source tree, so two at once (the two Airflow venvs, installed at once
    by `make airflow-venvs`) could read each other's half-written files. The Makefile takes the
    same lock with flock(1) for .venv's install."""
    with open(EDITABLE_BUILD_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK_NO_PROXY
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- loopback origin and proxy -----------------------------------------------------------------
class _Origin(http.server.BaseHTTPRequestHandler):
    """Answers every GET/POST with a small JSON body naming the path; logs each request."""

    server_version = "zsaudit-test-origin"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"path": self.path, "method": self.command, "ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.access.append(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} origin "
                                  f"{self.command} {self.path} via={self.headers.get('Via', '-')}")

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward HTTP proxy for absolute-form requests (plain HTTP only, loopback only)."""

    server_version = "zsaudit-test-proxy"

    def _forward(self):
        import http.client
        import urllib.parse

        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        status = 502
        try:
            if url.hostname not in ("127.0.0.1", "localhost"):
                raise OSError("proxy only forwards to loopback")
            con = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
            headers["Via"] = "1.1 zsaudit-test-proxy"
            con.request(self.command, url.path + (f"?{url.query}" if url.query else ""), body, headers)
            resp = con.getresponse()
            data = resp.read()
            status = resp.status
            self.send_response(status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Via", "1.1 zsaudit-test-proxy")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError as exc:
            self.send_error(502, str(exc))
        self.server.access.append(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} proxy "
                                  f"{self.client_address[0]} {self.command} {self.path} {status}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, *args):
        pass


class LoopbackServer:
    def __init__(self, handler):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.access = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def access(self) -> list[str]:
        return self.httpd.access

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# -- Airflow -----------------------------------------------------------------------------------
@dataclass
class AirflowRun:
    """One finished DAG run and where Airflow wrote about it."""

    dag_id: str
    run_id: str
    state: str
    home: Path
    logs_dir: Path          # $AIRFLOW_HOME/logs (task logs under dag_id=.../run_id=...)
    db_path: Path           # the SQLite metadata DB
    task_instances: list[dict]   # REST API v2 task instances of the run (latest try each)
    tries: list[dict]            # REST API v2 /tries of every task instance (every attempt)
    component_logs: Path    # stdout of api-server, scheduler, dag-processor
    extra: dict = field(default_factory=dict)

    @property
    def run_logs_dir(self) -> Path:
        return self.logs_dir / f"dag_id={self.dag_id}" / f"run_id={self.run_id}"

    def task_log_files(self) -> list[Path]:
        return sorted(self.run_logs_dir.rglob("attempt=*.log"))

    def rest_export(self, path: Path) -> Path:
        """Write the run's attempts as a REST API v2 task-instance collection (what zsaudit ingests)."""
        path.write_text(json.dumps({"task_instances": self.tries, "total_entries": len(self.tries)}, indent=1))
        return path


class AirflowError(RuntimeError):
    pass


class AirflowTimeout(AirflowError):
    """The REST API did not answer within AirflowServer.ANSWER_TIMEOUT (with the server's log tail)."""


class AirflowHTTPError(AirflowError):
    """An answer of Airflow's REST API that was not 2xx, with its body and the server's log tail
    (a bare urllib HTTPError says "500 INTERNAL SERVER ERROR" and nothing of why)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class AirflowServer:
    """Airflow on 127.0.0.1 with SQLite: api-server + scheduler + dag-processor (LocalExecutor) on
    Airflow 3, webserver + scheduler (SequentialExecutor) on Airflow 2."""

    COMPONENTS = ("api-server", "scheduler", "dag-processor") if AIRFLOW_MAJOR >= 3 else ("webserver", "scheduler")

    def __init__(self, venv: Path, home: Path, dags: list[Path], extra_env: dict | None = None):
        self.venv, self.home = venv, home
        self.dags_dir = home / "dags"
        self.logs_dir = home / "logs"
        self.db_path = home / "airflow.db"
        self.component_logs = home / "component_stdout"
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.extra_env = extra_env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self._token: str | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        for d in (self.dags_dir, self.logs_dir, self.component_logs):
            d.mkdir(parents=True, exist_ok=True)
        for dag in dags:
            shutil.copy(dag, self.dags_dir / dag.name)

    # -- environment ---------------------------------------------------------------------------
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k not in _PROXY_VARS}
        passwords = self.home / "passwords.json"
        if not passwords.exists():
            passwords.write_text(json.dumps({"admin": "zsaudit-test"}))
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "NO_PROXY": LOOPBACK_NO_PROXY,
            "no_proxy": LOOPBACK_NO_PROXY,
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_dir),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor" if AIRFLOW_MAJOR >= 3 else "SequentialExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            # SQLite's 5 s lock wait is not enough for four writers on a loaded machine ("database
            # is locked" killed the dag-processor once): wait up to a minute
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}?timeout=60",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs_dir),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.api,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": "zsaudit-test-secret-key",
            "AIRFLOW__API_AUTH__JWT_SECRET": "zsaudit-test-jwt-secret-0123456789abcdef",
            # The scheduler creates scheduled runs (the shipped DAG's latest one, catchup=False);
            # the test DAG has no schedule.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # The DAG files never change during a session: parsed when first listed, then not again
            # for 10 minutes (at 5 s, Airflow 3's processor re-parsed both files in fresh child
            # processes all session long: ~15 of its ~18 CPU-s)
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "5",
            # The one-line setting docs recommend: hooks log the URLs they call (at DEBUG).
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS": "airflow.task.hooks=DEBUG",
        })
        if AIRFLOW_MAJOR < 3:
            env.update({
                "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
                "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(self.port),
                "AIRFLOW__WEBSERVER__BASE_URL": self.api,
                "AIRFLOW__WEBSERVER__WORKERS": "1",
                "AIRFLOW__WEBSERVER__SECRET_KEY": "zsaudit-test-secret-key",
                "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.basic_auth",
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "600",
            })
        env.update(self.extra_env)
        return env

    def airflow(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        result = subprocess.run([str(self.venv / "bin" / "airflow"), *args], env=self.env(), cwd=self.home,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AirflowError(f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    # -- life cycle ----------------------------------------------------------------------------
    def start(self, timeout: float = 180) -> "AirflowServer":
        self.airflow("db", "migrate")
        if AIRFLOW_MAJOR < 3:  # the FAB user the REST API v1 authenticates (basic auth)
            self.airflow("users", "create", "--username", "admin", "--password", "zsaudit-test", "--role", "Admin",
                         "--firstname", "zsaudit", "--lastname", "test", "--email", "admin@example.invalid")
            self._cheaper_password_hash("admin", "zsaudit-test")
        env = self.env()
        for i, name in enumerate(self.COMPONENTS):
            out = open(self.component_logs / f"{name}.log", "ab")
            self.procs[name] = subprocess.Popen(
                [str(self.venv / "bin" / "airflow"), name], env=env, cwd=self.home,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() kills workers too
            )
            out.close()
            if i == 0:  # the API server first: the scheduled run's tasks call its execution API at once
                self._wait(lambda: self._health_ok(), timeout, f"the API server to answer {self.HEALTH}")
        return self

    def _cheaper_password_hash(self, user: str, password: str) -> None:
        """Basic auth checks the password on every REST API v1 request, against Werkzeug's default
        hash (pbkdf2:sha256, 260,000 rounds): ~0.1 CPU-s a check, ~20 CPU-s of the webserver's in a
        session of polls. The test user's hash is rewritten in the same scheme with 1,000 rounds
        (a test password on loopback; Werkzeug reads the rounds from the hash)."""
        import hashlib
        import secrets
        import sqlite3

        salt = secrets.token_hex(8)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1000).hex()
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=60)) as con, con:
            changed = con.execute("UPDATE ab_user SET password = ? WHERE username = ?",
                                  (f"pbkdf2:sha256:1000${salt}${digest}", user)).rowcount
        if changed != 1:
            raise AirflowError(f"no FAB user {user!r} in {self.db_path}")

    def stop(self, grace: float = 20) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # the group may outlive its leader (task runners forked by LocalExecutor)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.procs.clear()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AirflowError(f"airflow {name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 4000) -> str:
        path = self.component_logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def _wait(self, ready, timeout: float, what: str, interval: float = 1.0):
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            value = ready()
            if value:
                return value
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {n} ---\n{self.tail(n, 2000)}" for n in self.COMPONENTS)
                raise AirflowError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
            time.sleep(interval)

    # -- REST API (v2 on Airflow 3, v1 on Airflow 2) ---------------------------------------------
    HEALTH = f"{API}/monitor/health" if AIRFLOW_MAJOR >= 3 else f"{API}/health"

    # A write waits up to 60 s for SQLite's lock (SQL_ALCHEMY_CONN's timeout) before the server
    # answers "database is locked": the client waits longer, so that the server's answer comes
    # first. CI once saw a trigger unanswered after 30 s while three suites shared two cores.
    ANSWER_TIMEOUT = 90.0
    # Methods a late or failed answer lets us send again: reading, and setting a field to a value.
    _REPEATABLE = frozenset({"GET", "PATCH"})

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True,
                 attempts: int | None = None):
        """One REST call; a GET or PATCH is sent again after a timeout or a 5xx (a loaded server's
        transient failure), anything else is sent once (see trigger for a POST that is made safe)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.api}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", self.authorization())
        attempts = attempts or (3 if method in self._REPEATABLE else 1)
        for attempt in range(1, attempts + 1):
            try:
                with self._opener.open(req, timeout=self.ANSWER_TIMEOUT) as resp:
                    return json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as exc:
                answer = exc.read().decode("utf-8", "replace")[:3000]
                if exc.code >= 500 and attempt < attempts:
                    time.sleep(2 * attempt)
                    continue
                raise AirflowHTTPError(exc.code, f"{method} {path} answered {exc.code} {exc.reason}:\n{answer}\n"
                                             f"--- {self.COMPONENTS[0]} (tail) ---\n{self.tail(self.COMPONENTS[0])}"
                                       ) from exc
            except (TimeoutError, urllib.error.URLError) as exc:
                timed_out = isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)
                if not timed_out:
                    raise
                if attempt < attempts:
                    continue
                raise AirflowTimeout(f"{method} {path}: no answer within {self.ANSWER_TIMEOUT:.0f}s "
                                     f"({attempts} attempt(s))\n--- {self.COMPONENTS[0]} (tail) ---\n"
                                     f"{self.tail(self.COMPONENTS[0])}") from exc

    def _health_ok(self) -> bool:
        try:
            self._request("GET", self.HEALTH, auth=False)
            return True
        except (AirflowError, urllib.error.URLError, ConnectionError, OSError):
            return False

    def authorization(self) -> str:
        if AIRFLOW_MAJOR < 3:
            import base64

            return "Basic " + base64.b64encode(b"admin:zsaudit-test").decode()
        return f"Bearer {self.token()}"

    def token(self) -> str:
        if self._token is None:
            answer = self._request("POST", "/auth/token",   # a new token each time: safe to repeat
                                   {"username": "admin", "password": "zsaudit-test"}, auth=False, attempts=3)
            self._token = answer["access_token"]
        return self._token

    def get(self, path: str):
        return self._request("GET", path)

    def set_variable(self, key: str, value: str) -> None:
        self._request("POST", f"{API}/variables", {"key": key, "value": value})

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict:
        """Wait until the DAG processor has parsed and serialized the DAG; fail on its import error."""

        settle = time.monotonic() + min(timeout / 2, 60)
        last_error: list[AirflowHTTPError | None] = [None]

        def ready():
            errors = self.get(f"{API}/importErrors").get("import_errors", [])
            mine = [e for e in errors if Path(e.get("filename", "")).stem in self._dag_files_for(dag_id)]
            if mine:
                raise AirflowError(f"DAG {dag_id} failed to import:\n{mine[0].get('stack_trace')}")
            try:
                # the DAG's row first: Airflow 2.10's details endpoint answers 500 (not 404) while the
                # DAG processor has written the serialized DAG but not yet its DagModel row
                self.get(f"{API}/dags/{dag_id}")
                return self.get(f"{API}/dags/{dag_id}/details")
            except AirflowHTTPError as exc:
                if exc.code == 404:
                    return None
                if exc.code >= 500 and time.monotonic() < settle:
                    last_error[0] = exc  # a server error while parsing settles; reported if it never does
                    return None
                raise

        try:
            return self._wait(ready, timeout, f"DAG {dag_id} to be parsed")
        except AirflowError as exc:
            if last_error[0] is not None:
                raise AirflowError(f"{exc}\nlast server error while waiting:\n{last_error[0]}") from exc
            raise

    def _dag_files_for(self, dag_id: str) -> set[str]:
        return {p.stem for p in self.dags_dir.glob("*.py") if dag_id in p.read_text(errors="replace")}

    def trigger(self, dag_id: str, run_id: str, *, logical_date: str,
                data_interval: tuple[str, str] | None = None, conf: dict | None = None) -> str:
        """Create the run; sent again after a timeout or a 5xx only when the run does not exist, so
        that a late answer never triggers it twice (the retry's 409 then means our first POST won)."""
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf or {}}
        if data_interval:
            body["data_interval_start"], body["data_interval_end"] = data_interval
        for attempt in range(1, 4):
            try:
                return self._request("POST", f"{API}/dags/{dag_id}/dagRuns", body)["dag_run_id"]
            except AirflowError as exc:
                unanswered = isinstance(exc, AirflowTimeout) or (isinstance(exc, AirflowHTTPError) and exc.code >= 500)
                if attempt > 1 and isinstance(exc, AirflowHTTPError) and exc.code == 409 and self._run_exists(dag_id, run_id):
                    return run_id
                if not unanswered or attempt == 3:
                    raise
            if self._run_exists(dag_id, run_id):
                return run_id
        raise AssertionError("unreachable")

    def _run_exists(self, dag_id: str, run_id: str) -> bool:
        try:
            self.get(f"{API}/dags/{dag_id}/dagRuns/{run_id}")
            return True
        except AirflowHTTPError as exc:
            if exc.code == 404:
                return False
            raise

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        def ended():
            state = self.get(f"{API}/dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in _TERMINAL else None

        return self._wait(ended, timeout, f"run {run_id} of {dag_id} to end", interval=1.0)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"{API}/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")["task_instances"]

    def tries(self, dag_id: str, run_id: str) -> list[dict]:
        out = []
        for ti in self.task_instances(dag_id, run_id):
            mi = ti.get("map_index", -1)
            base = f"{API}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}"
            path = f"{base}/{mi}/tries" if mi is not None and mi >= 0 else f"{base}/tries"
            out.extend(self.get(path)["task_instances"])
        return out

    def run_dag(self, dag_id: str, run_id: str, *, logical_date: str,
                data_interval: tuple[str, str] | None = None, timeout: float = 240) -> AirflowRun:
        """Trigger, wait, and describe one run (its logs are flushed when its tasks ended)."""
        self.wait_for_dag(dag_id)
        self.trigger(dag_id, run_id, logical_date=logical_date, data_interval=data_interval)
        return self.finished_run(dag_id, run_id, timeout=timeout)

    def finished_run(self, dag_id: str, run_id: str, timeout: float = 240) -> AirflowRun:
        state = self.wait_for_run(dag_id, run_id, timeout=timeout)
        return AirflowRun(dag_id=dag_id, run_id=run_id, state=state, home=self.home, logs_dir=self.logs_dir,
                          db_path=self.db_path, task_instances=self.task_instances(dag_id, run_id),
                          tries=self.tries(dag_id, run_id), component_logs=self.component_logs,
                          extra={"dag_run": self.get(f"{API}/dags/{dag_id}/dagRuns/{run_id}")})

    def scheduled_run(self, dag_id: str, timeout: float = 300) -> AirflowRun:
        """The run the scheduler created from the DAG's own timetable (waits for it to end)."""
        self.wait_for_dag(dag_id)     # before it is parsed, its runs are a 404

        def created():
            runs = self.get(f"{API}/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
            return next((r for r in runs if r.get("run_type") == "scheduled"), None)

        run = self._wait(created, timeout, f"the scheduler to create a scheduled run of {dag_id}", interval=1.0)
        return self.finished_run(dag_id, run["dag_run_id"], timeout=timeout)

    def dags_test(self, dag_id: str, logical_date: str, extra_env: dict | None = None,
                  timeout: float = 300) -> subprocess.CompletedProcess:
        """`airflow dags test DAG DATE`: one run in-process, with the DAG's own timetable. The DAG
        is paused meanwhile, so that the running scheduler does not run the same tasks too."""
        env = {**self.env(), **(extra_env or {})}
        self.set_paused(dag_id, True)
        try:
            return subprocess.run([str(self.venv / "bin" / "airflow"), "dags", "test", dag_id, logical_date],
                                  env=env, cwd=self.home, capture_output=True, text=True, timeout=timeout)
        finally:
            self.set_paused(dag_id, False)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._request("PATCH", f"{API}/dags/{dag_id}", {"is_paused": paused})


# -- what the nightly DAG audits in the tests ---------------------------------------------------
def yesterday() -> "datetime.date":
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)


def run_day(run: AirflowRun) -> "datetime.date":
    """The UTC day a run's first attempt started (the day its attempts are audited under; never
    the clock at assertion time, which may be past midnight)."""
    import datetime

    starts = [datetime.datetime.fromisoformat(t["start_date"].replace("Z", "+00:00"))
              for t in run.tries if t.get("start_date")]
    assert starts, run.tries
    return min(starts).astimezone(datetime.timezone.utc).date()


def assert_pack_of(packs: Path, day: str, *, pdf: bool = True) -> dict:
    """packs/<day> is a verified pack of exactly that UTC day (with its PDF or, for a config with
    `pdf = false`, without); returns its manifest."""
    import datetime

    from zsaudit.report import verify

    pack = packs / day
    assert (pack / "index.html").is_file(), sorted(packs.iterdir())
    assert (pack / "audit-pack.pdf").is_file() == pdf, sorted(pack.iterdir())
    assert verify(pack) == []
    manifest = json.loads((pack / "manifest.json").read_text())
    until = (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()
    assert manifest["period"] == {"since": f"{day}T00:00:00Z", "until": f"{until}T00:00:00Z"}
    return manifest


def synth_default_day():
    from zsaudit.synth import DAY

    return DAY.date()


def write_nightly_inputs(work: Path, days=(None,), *, airflow_paths: bool = True, pdf: bool = True) -> dict:
    """Synthetic nights of Zscaler and Airflow logs (zsaudit.synth; None: its default night,
    2026-11-24) and one zsaudit.toml naming them all, for the zsaudit_nightly DAG. Returns where
    things are and which nights they are ("night": the first one, as ISO strings). pdf=False:
    the pack without its PDF (~10 CPU-s a render on this machine), for the runs whose test is
    about which day they audit; the session's own store keeps it."""
    from zsaudit.demo import synth_night  # the project venv runs the tests: zsaudit is importable
    from zsaudit.synth import synthesize

    work.mkdir(parents=True, exist_ok=True)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    nights, zscaler, airflow = {}, [], []
    default = synth_default_day()
    days = [None if d == default else d for d in days]
    for day in dict.fromkeys(days):
        synth_dir = work / f"synth-{day or 'default'}"
        result = synthesize(synth_dir, requests=400, seed=7, day=day)
        since, until = synth_night(result, synth_dir)
        nights[since.strftime("%Y-%m-%d")] = (iso(since), iso(until))
        zscaler.append(synth_dir / "zscaler")
        airflow += [synth_dir / "airflow" / "logs", synth_dir / "airflow" / "task_instances.json"]
    first = work / f"synth-{days[0] or 'default'}"
    toml_list = lambda paths: "[" + ", ".join(f'"{p}"' for p in paths) + "]"  # noqa: E731
    config = work / "zsaudit.toml"
    config.write_text(
        "# written by tests/airflow_harness.py for the zsaudit_nightly DAG\n"
        f'db = "{work / "nightly.duckdb"}"\n'
        f'identity_map = "{first / "identity.toml"}"\n'
        "[zscaler]\n"
        f"paths = {toml_list(zscaler)}\n"
        + ("[airflow]\n" f"paths = {toml_list(airflow)}\n" if airflow_paths else "")
        + "[pack]\n"
        f'out_dir = "{work / "packs"}"\n'
        f"pdf = {'true' if pdf else 'false'}\n"
        "[run]\n"
        'fail_on = "none"\n'
    )
    night = next(iter(nights.values()))
    return {"config": config, "db": work / "nightly.duckdb", "night": night, "nights": nights,
            "packs": work / "packs", "pack_dir": work / "packs" / night[0][:10], "synth_dir": first}


# -- pytest fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def airflow_loopback():
    """(origin, proxy): the HTTP endpoints the test DAG calls, with their access logs."""
    with LoopbackServer(_Origin) as origin, LoopbackServer(_Proxy) as proxy:
        yield origin, proxy


@pytest.fixture(scope="session")
def airflow_server(tmp_path_factory, airflow_loopback):
    origin, proxy = airflow_loopback
    venv = ensure_airflow_venv()
    work = tmp_path_factory.mktemp("airflow")
    # The shipped DAG runs as soon as the DAG processor has parsed it (the scheduler creates its
    # latest scheduled run, which audits yesterday): its inputs exist before Airflow starts. The
    # same store also holds zsaudit.synth's default night, which airflow_nightly_run audits, and
    # RETRY_DAY's.
    import datetime

    nightly = write_nightly_inputs(work / "nightly", days=(None, yesterday(), datetime.date.fromisoformat(RETRY_DAY)))
    # The nightly DAG reads its config path from the Airflow Variable `zsaudit_config` (here from
    # the environment: AIRFLOW_VAR_ZSAUDIT_CONFIG); ZSAUDIT_CONFIG, its fallback, names a missing
    # file to prove the order.
    dags = [ROOT / "zsaudit" / "airflow" / "dags" / "zsaudit_nightly.py",
            FIXTURES / "airflow_dags" / "zsaudit_test_dag.py"]     # both run on Airflow 3 and 2.10
    server = AirflowServer(
        venv, work / "airflow_home", dags=dags,
        extra_env={
            "ZSAUDIT_TEST_ORIGIN": origin.url,
            "ZSAUDIT_TEST_PROXY": proxy.url,
            "AIRFLOW_CONN_LOCAL_API": origin.url.replace("http://", "http://apiuser:apisecret@"),
            "AIRFLOW_VAR_ZSAUDIT_CONFIG": str(nightly["config"]),
            "ZSAUDIT_CONFIG": str(work / "not-this-one.toml"),
            "ZSAUDIT_DAG_RETRY_DELAY": TEST_RETRY_DELAY,
        },
    )
    server.nightly = nightly
    with server:
        yield server


@pytest.fixture(scope="session")
def airflow_test_run(airflow_server, airflow_loopback) -> AirflowRun:
    run = airflow_server.run_dag(TEST_DAG_ID, "zsaudit_test_run1", logical_date="2026-11-25T12:00:00+00:00")
    origin, proxy = airflow_loopback
    run.extra.update(origin_access=list(origin.access), proxy_access=list(proxy.access))
    return run


@pytest.fixture(scope="session")
def airflow_scheduled_run(airflow_server) -> AirflowRun:
    """The shipped DAG's run as the scheduler created it from its own timetable."""
    run = airflow_server.scheduled_run(NIGHTLY_DAG_ID, timeout=420)
    run.extra.update(airflow_server.nightly)
    return run


@pytest.fixture(scope="session")
def airflow_nightly_run(airflow_server, airflow_scheduled_run) -> AirflowRun:
    """A manual run of the shipped DAG with an explicit data interval (zsaudit.synth's night),
    after the scheduled run (max_active_runs=1 would queue it behind anyway)."""
    inputs = airflow_server.nightly
    since, until = inputs["night"]
    run = airflow_server.run_dag(NIGHTLY_DAG_ID, f"zsaudit_nightly_{since[:10]}", logical_date=since,
                                 data_interval=(since, until), timeout=300)
    run.extra.update(inputs)
    return run


if __name__ == "__main__":   # `make test-airflow`: install the venv (or find it current) before the suite runs
    print(f"airflow venv {ensure_airflow_venv()} (apache-airflow=={AIRFLOW_VERSION})")
