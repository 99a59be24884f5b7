"""log_filename_template (Jinja) -> path parser, and property tests for the task-log line parsers."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Environment

from fresh_store import new_store
from zsaudit.errors import BadUsage
from zsaudit.ingest.airflow import ingest_paths
from zsaudit.ingest.log_template import DEFAULT, DEFAULT_TEMPLATE, LEGACY, compile_template


class TI:
    def __init__(self, dag_id, run_id, task_id, map_index, try_number):
        self.dag_id, self.run_id, self.task_id = dag_id, run_id, task_id
        self.map_index, self.try_number = map_index, try_number


def render(template: str, ti: TI, **extra) -> str:
    return Environment().from_string(template).render(ti=ti, try_number=ti.try_number, **extra)


@pytest.mark.parametrize("path, expected", [
    ("dag_id=zsaudit_sample/run_id=manual__2026-11-25T13:38:29.242859+00:00/task_id=square/map_index=1/attempt=1.log",
     {"dag_id": "zsaudit_sample", "run_id": "manual__2026-11-25T13:38:29.242859+00:00", "task_id": "square",
      "map_index": 1, "try_number": 1}),
    ("/home/airflow/logs/dag_id=d/run_id=scheduled__2024-01-01T00:00:00+00:00/task_id=g.t/attempt=12.log",
     {"dag_id": "d", "run_id": "scheduled__2024-01-01T00:00:00+00:00", "task_id": "g.t", "try_number": 12}),
    ("dag_id=d/run_id=r/task_id=t/attempt=x.log", None),
    ("dag_processor/2026-11-25/dags-folder/zsaudit_sample.py.log", None),
])
def test_default_template(path, expected):
    assert DEFAULT.parse(path) == expected


def test_legacy_template_with_url_encoded_ts():
    assert LEGACY.parse("logs/my_dag/my_task/2024-01-01T00%3A00%3A00%2B00%3A00/3.log") == {
        "dag_id": "my_dag", "task_id": "my_task", "ts": "2024-01-01T00:00:00+00:00", "try_number": 3}
    assert LEGACY.parse("scheduler/2026-11-25/zsaudit_sample.py.log") is None


@pytest.mark.parametrize("run_dir, run_id", [
    ("run_id=manual__2026-11-25T13%3A38%3A29%2B00%3A00", "manual__2026-11-25T13:38:29+00:00"),
    ("run_id=a%00b", "a%00b"),        # would be a NUL: the name's own text
    ("run_id=a%0Ab", "a%0Ab"),        # a newline
    ("run_id=a%FFb", "a%FFb"),        # not UTF-8
    ("run_id=50%", "50%"),
])
def test_a_percent_encoding_is_decoded_only_into_text(run_dir, run_id):
    """Found by test_default_template_round_trips_any_identity: run_id "%00" came back a NUL, and
    a task attempt with a NUL and a newline in its run_id reached the store."""
    assert DEFAULT.parse(f"dag_id=d/{run_dir}/task_id=t/attempt=1.log")["run_id"] == run_id


def test_repeated_field_must_repeat_the_same_value():
    t = compile_template("{{ ti.dag_id }}/{{ ti.task_id }}/{{ ti.dag_id }}-{{ try_number }}.log")
    assert t.parse("a/b/a-1.log") == {"dag_id": "a", "task_id": "b", "try_number": 1}
    assert t.parse("a/b/c-1.log") is None


def test_unsupported_blocks_are_usage_errors():
    with pytest.raises(BadUsage, match="for"):
        compile_template("{% for x in y %}{{ x }}{% endfor %}.log")
    with pytest.raises(BadUsage, match="not a valid Jinja"):
        compile_template("{{ ti.dag_id }/x.log")


# A segment as Airflow could name it; a "%XX" in a path is read as an encoding (decoded when that
# gives text: test_a_percent_encoding_is_decoded_only_into_text), so the raw names hold none.
_seg = st.text(alphabet=st.characters(blacklist_characters="/\\\x00\n\r", blacklist_categories=("Cs",)),
               min_size=1, max_size=24).filter(lambda s: s.strip() == s and s not in (".", "..")
                                               and unquote(s) == s)
_ids = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}", fullmatch=True)


@settings(deadline=None)        # a Jinja render an example: over 200 ms under a shared machine's load
@given(dag=_ids, run=_seg, task=_ids, map_index=st.integers(-1, 5000), try_number=st.integers(1, 99))
def test_default_template_round_trips_any_identity(dag, run, task, map_index, try_number):
    ti = TI(dag, run, task, map_index, try_number)
    path = render(DEFAULT_TEMPLATE, ti)
    expected = {"dag_id": dag, "run_id": run, "task_id": task, "try_number": try_number}
    if map_index >= 0:
        expected["map_index"] = map_index
    assert DEFAULT.parse("logs/" + path) == expected


@settings(deadline=None)
@given(dag=_ids, run=_seg, task=_ids, try_number=st.integers(1, 99))
def test_custom_template_round_trips(dag, run, task, try_number):
    template = "{{ ti.dag_id }}/{{ ti.task_id }}/{{ ti.run_id }}/try-{{ ti.try_number }}.json.log"
    path = render(template, TI(dag, run, task, -1, try_number))
    assert compile_template(template).parse(path) == {"dag_id": dag, "task_id": task, "run_id": run,
                                                      "try_number": try_number}


# -- line parsers ----------------------------------------------------------------------------
_message = st.text(alphabet=st.characters(blacklist_characters="\n\r\x1b", blacklist_categories=("Cs",)),
                   max_size=80)
_level = st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
_time = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=timezone.utc))


class _Examples:
    """One store for a property test's examples (a store's open and close cost about what a tiny
    file's ingest does): each file is a task log of a run of its own, and its rows are read by its
    path. Content the store has already seen (ingested once, then skipped by its sha256) goes to
    a store of its own, so every file is a first ingest."""

    def __init__(self, folder: Path):
        self.folder, self.runs, self.seen = folder, itertools.count(), set()
        self.store = new_store(folder / "z.duckdb")

    def ingest(self, data: bytes):
        """(result, lines, rejects, attempt states) of `data` as one attempt's task log."""
        return self.ingest_many([data])[0]

    def ingest_many(self, blobs: list[bytes]) -> list[tuple]:
        """ingest() of each of `blobs` (distinct), the files in one ingest (one batch)."""
        root = self.folder / f"logs-{next(self.runs)}"
        paths = []
        for data in blobs:
            run = next(self.runs)
            p = root / "dag_id=d" / f"run_id=r{run}" / "task_id=t" / "attempt=1.log"
            p.parent.mkdir(parents=True)
            p.write_bytes(data)
            paths.append(p)
        digests = {hashlib.sha256(data).digest() for data in blobs}
        assert len(digests) == len(blobs), "blobs must be distinct"
        if digests & self.seen:
            with new_store(root.with_suffix(".duckdb")) as store:
                return self._ingest(store, root, paths)
        self.seen |= digests
        return self._ingest(self.store, root, paths)

    @staticmethod
    def _ingest(store, root: Path, paths: list[Path]) -> list[tuple]:
        results = {r.path: r for r in ingest_paths(store, [root])}
        assert sorted(results) == sorted(map(str, paths))
        out = []
        for p in paths:
            rows = store.con.execute("SELECT source_line, event_time, level, source, message, continuation "
                                     "FROM airflow_log_lines WHERE log_file = ? ORDER BY source_line",
                                     [str(p)]).fetchall()
            rejects = store.con.execute("SELECT source_line FROM rejects WHERE source_file = ?", [str(p)]).fetchall()
            states = store.con.execute("SELECT state FROM task_attempts WHERE log_file = ?", [str(p)]).fetchall()
            out.append((results[str(p)], rows, rejects, states))
        return out

    def close(self):
        self.store.close()


@pytest.fixture
def examples(tmp_path):
    ex = _Examples(tmp_path)
    yield ex
    ex.close()


def _ingest_one(examples: _Examples, text: str):
    result, rows, rejects, _ = examples.ingest(text.encode("utf-8"))
    return result, rows, rejects


# Each example is one file's ingest (~0.1 CPU-s fixed): up to 12 records a file in 12 examples put
# about as many lines through the parser as up to 6 in 25 did (docs/benchmarks.md, "Test suite time").
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.tuples(_time, _level, _message, st.lists(_message, max_size=2)), min_size=1, max_size=12),
       offset=st.integers(-12, 12))
def test_airflow2_text_lines_parse_back(examples, records, offset):
    zone = timezone(timedelta(hours=offset))
    lines, expected = [], []
    for when, level, msg, continuation in records:
        local = when.astimezone(zone)
        stamp = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")
        lines.append(f"[{stamp}] {{mod.py:7}} {level} - {msg}")
        expected.append((when, level, "mod.py:7", msg, False))
        for c in continuation:
            c = "  " + c        # a traceback-like line cannot look like a record
            lines.append(c)
            expected.append((when, level, "mod.py:7", c, True))
    result, rows, rejects = _ingest_one(examples, "\n".join(lines) + "\n")
    assert result.lines_read == len(lines) == result.rows_loaded and not rejects
    assert [r[1:] for r in rows] == expected


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.tuples(_time, _level, _message, st.randoms(use_true_random=False)), min_size=1, max_size=12))
def test_airflow3_json_lines_parse_back_in_any_key_order(examples, records):
    lines, expected = [], []
    for when, level, msg, rnd in records:
        rec = {"timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "level": level.lower(), "event": msg,
               "logger": "airflow.task.hooks.x.HttpHook", "dag_id": "d", "run_id": "r", "task_id": "t",
               "try_number": 1, "map_index": -1, "extra": {"k": [1, 2]}}
        keys = list(rec)
        rnd.shuffle(keys)
        lines.append(json.dumps({k: rec[k] for k in keys}))
        expected.append((when, level, "airflow.task.hooks.x.HttpHook", msg, False))
    result, rows, rejects = _ingest_one(examples, "\n".join(lines) + "\n")
    assert result.rows_loaded == len(lines) and not rejects
    assert [r[1:] for r in rows] == expected


# Up to 4 files an example, in one ingest (one batch; a file that breaks it is retried alone), in
# 12 examples: about the 30 files that 30 one-file examples were, a third of the ingests.
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(blobs=st.lists(st.binary(max_size=400), min_size=1, max_size=4, unique=True))
def test_arbitrary_bytes_never_crash_and_every_line_is_accounted_for(examples, blobs):
    for result, rows, rejects, states in examples.ingest_many(blobs):
        assert not result.skipped
        assert result.lines_read == result.rows_loaded + result.rows_rejected
        assert (len(rows), len(rejects)) == (result.rows_loaded, result.rows_rejected)
        assert states in ([("unknown",)], [("success",)], [("failed",)])
