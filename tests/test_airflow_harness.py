"""The Airflow harness's REST client on a loaded server: a trigger whose answer comes late, or
never, or as a 5xx, creates the run exactly once and the fixture goes on.

CI once failed all five tests of the `airflow_test_run` fixture: Airflow 3's API server did not
answer the trigger's POST within the client's 30 s while three suites shared two cores (SQLite
lets a write wait 60 s for its lock). This runs the harness's own client against a loopback
stand-in for the API that behaves like that server, so that it runs in `make test`.
"""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from airflow_harness import API, AirflowHTTPError, AirflowServer, AirflowTimeout

DAG = "zsaudit_test"
RUNS = f"{API}/dags/{DAG}/dagRuns"


class SlowApi(http.server.ThreadingHTTPServer):
    """Answers like Airflow's API server; `behaviour` says what each POST of a run does in turn:
    "late" (creates the run, answers after the client gave up), "lost" (creates nothing, answers
    after the client gave up), "locked" (creates nothing, answers 500), "ok"."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, behaviour: list[str], delay: float):
        self.behaviour, self.delay = list(behaviour), delay
        self.runs: dict[str, dict] = {}
        self.posts = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    server: SlowApi

    def log_message(self, *args):
        pass

    def _answer(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass   # the client gave up on a late answer

    def do_GET(self):
        run_id = self.path.rsplit("/", 1)[-1]
        if self.path.startswith(RUNS + "/") and run_id in self.server.runs:
            return self._answer(200, self.server.runs[run_id])
        return self._answer(404, {"detail": "not found"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        if self.path == "/auth/token":
            return self._answer(201, {"access_token": "t"})
        with self.server.lock:
            self.server.posts += 1
            what = self.server.behaviour.pop(0) if self.server.behaviour else "ok"
            run_id = body["dag_run_id"]
            if run_id in self.server.runs:
                return self._answer(409, {"detail": f"DAGRun {run_id} already exists"})
            if what in ("late", "ok"):
                self.server.runs[run_id] = {"dag_run_id": run_id, "state": "queued"}
        if what in ("late", "lost"):
            time.sleep(self.server.delay)
        if what == "locked":
            return self._answer(500, {"detail": "(sqlite3.OperationalError) database is locked"})
        return self._answer(200, {"dag_run_id": run_id, "state": "queued"})


@pytest.fixture
def api(tmp_path, request):
    server = SlowApi(request.param, delay=1.0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    client = AirflowServer(venv=tmp_path / "venv", home=tmp_path / "home", dags=[])
    client.api = f"http://127.0.0.1:{server.server_address[1]}"
    client.ANSWER_TIMEOUT = 0.25
    try:
        yield server, client
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("api", "posts"), [
    (["late"], 1),                 # created, answered late: not sent again (the GET finds it)
    (["lost"], 2),                 # nothing created, no answer: sent again
    (["locked"], 2),               # nothing created, 500: sent again
    (["late", "late"], 1),
    (["lost", "locked"], 3),
], indirect=["api"], ids=["late", "lost", "locked", "late-twice", "lost-then-locked"])
def test_a_trigger_answered_late_or_not_at_all_creates_the_run_once(api, posts):
    server, client = api
    assert client.trigger(DAG, "run1", logical_date="2026-11-25T12:00:00+00:00") == "run1"
    assert list(server.runs) == ["run1"] and server.posts == posts


@pytest.mark.parametrize("api", [["ok"]], indirect=True)
def test_a_run_that_already_existed_is_still_an_error(api):
    server, client = api
    client.trigger(DAG, "run1", logical_date="2026-11-25T12:00:00+00:00")
    with pytest.raises(AirflowHTTPError) as exc:
        client.trigger(DAG, "run1", logical_date="2026-11-25T12:00:00+00:00")
    assert exc.value.code == 409 and "already exists" in str(exc.value)


@pytest.mark.parametrize("api", [["lost", "lost", "lost"]], indirect=True)
def test_a_server_that_never_answers_fails_with_what_it_was_asked(api):
    server, client = api
    with pytest.raises(AirflowTimeout) as exc:
        client.trigger(DAG, "run1", logical_date="2026-11-25T12:00:00+00:00")
    assert f"POST {RUNS}: no answer within" in str(exc.value)
    assert server.posts == 3 and server.runs == {}
