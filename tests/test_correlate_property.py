"""Property: the sort-merge interval join finds exactly the attempts a brute-force n x m scan
finds (same worker, start - skew <= t <= end + skew), for random overlapping schedules."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis_builder import BILLING, Case, T0
from fresh_store import new_store
from zsaudit.errors import BadInput
from zsaudit.identity_map import parse

SKEW = 5  # seconds, as in analysis_builder.IDENTITY

attempt_st = st.tuples(st.integers(0, 1), st.integers(0, 300), st.integers(0, 120))   # worker, start, duration
request_st = st.tuples(st.integers(0, 1), st.integers(-20, 450))                      # worker, time


# Each example is one analysis (~0.2 CPU-s fixed): schedules of up to 16 attempts and 30 requests in
# 10 examples overlap at least as often as up to 8 and 15 in 20 did (docs/benchmarks.md, "Test suite time").
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempts=st.lists(attempt_st, min_size=0, max_size=16), requests=st.lists(request_st, min_size=1, max_size=30))
def test_interval_join_equals_brute_force(tmp_path_factory, attempts, requests):
    tmp = tmp_path_factory.mktemp("prop")
    store = new_store(tmp / "p.duckdb")
    try:
        case = Case(store, tmp)
        ids = []
        for i, (w, start, dur) in enumerate(attempts):
            ids.append((w, start, start + dur, case.attempt(
                "billing_daily", "t", T0 + timedelta(seconds=start), T0 + timedelta(seconds=start + dur),
                run_id=f"r{i}", hostname=f"worker-{w + 1}")))
        rids = []
        for w, t in requests:
            rids.append((w, t, case.web(T0 + timedelta(seconds=t), BILLING, "api.billing.example",
                                        device=f"worker-{w + 1}.corp.example", ip=f"10.0.0.{w + 1}")))
        case.analyze()
        for w, t, rid in rids:
            expected = sorted(aid for aw, s, e, aid in ids if aw == w and s - SKEW <= t <= e + SKEW)
            status, attempt, _, n, _ = case.attribution(rid)
            assert n == len(expected)
            assert status == {0: "unattributed", 1: "attributed"}.get(len(expected), "ambiguous")
            if len(expected) == 1:
                assert attempt == expected[0]
            if len(expected) > 1:
                cands = store.con.execute("SELECT candidate_attempts FROM attributions WHERE request_rid = ?",
                                          [rid]).fetchone()[0]
                assert cands == expected[:10]
    finally:
        store.close()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_identity_map_parser_never_crashes(text):
    """Any text is either a valid map or a BadInput naming the file: never another exception."""
    try:
        parse(text, "m.toml")
    except BadInput as exc:
        assert str(exc).startswith("m.toml: ")
