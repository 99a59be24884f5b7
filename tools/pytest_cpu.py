"""CPU seconds per test, for deciding where `make test`'s time goes (docs/benchmarks.md, "Test suite
time"). As a pytest plugin it appends one JSON line per test to $TEST_CPU_OUT: the CPU (user + sys)
of the test's setup, call and teardown in its process and in the children it waited for, and the
wall time; run as a script it sums such files by test file and lists the dearest tests.

    TEST_CPU_OUT=/tmp/cpu.jsonl PYTHONPATH=tools .venv/bin/python -m pytest -p pytest_cpu -n 0 -p no:randomly tests/...
    .venv/bin/python tools/pytest_cpu.py /tmp/cpu.jsonl

A module or session fixture is counted in the first test that uses it. Children not waited for
(servers a fixture kills) are not counted; state the load (`uptime`) beside any figure.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time

import pytest


def _cpu() -> tuple[float, float]:
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    (own0, kids0), wall0 = _cpu(), time.monotonic()
    yield
    (own1, kids1), wall1 = _cpu(), time.monotonic()
    with open(os.environ.get("TEST_CPU_OUT", "test-cpu.jsonl"), "a", encoding="utf-8") as out:
        out.write(json.dumps({"id": item.nodeid, "self": round(own1 - own0, 3), "child": round(kids1 - kids0, 3),
                              "wall": round(wall1 - wall0, 3), "end": round(time.time(), 3),
                              "worker": os.environ.get("PYTEST_XDIST_WORKER", "")}) + "\n")


def main(paths: list[str], top: int = 30) -> None:
    rows = [json.loads(line) for p in paths for line in open(p, encoding="utf-8")]
    files: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for r in rows:
        f = files[r["id"].split("::")[0]]
        f[0] += r["self"]
        f[1] += r["child"]
        f[2] += 1
    print(f"{sum(r['self'] + r['child'] for r in rows):.1f} CPU-s over {len(rows)} tests")
    for name, (own, kids, n) in sorted(files.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        print(f"{own + kids:8.1f}  (children {kids:6.1f})  {n:4d} tests  {name}")
    print(f"-- the {top} dearest tests")
    for r in sorted(rows, key=lambda r: -(r["self"] + r["child"]))[:top]:
        print(f"{r['self'] + r['child']:8.2f}  (children {r['child']:5.2f})  {r['id']}")
    workers: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        if r.get("worker"):
            workers[r["worker"]].append(r)
    if len(workers) > 1:   # an xdist run: when each worker ran its first and last test
        t0 = min(r["end"] - r["wall"] for r in rows)
        print("-- workers (seconds after the first test started)")
        for name, rs in sorted(workers.items()):
            first, last = min(r["end"] - r["wall"] for r in rs) - t0, max(r["end"] for r in rs) - t0
            cpu = sum(r["self"] + r["child"] for r in rs)
            print(f"{name}: {len(rs)} tests, {cpu:.1f} CPU-s, first at {first:.1f} s, last done at {last:.1f} s, "
                  f"last file {max(rs, key=lambda r: r['end'])['id'].split('::')[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
