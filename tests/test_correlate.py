"""Correlation: each worker request is tied to the task attempt behind it (or says why not)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analysis_builder import BILLING, ETL, Case, at


@pytest.fixture
def case(store, tmp_path):
    c = Case(store, tmp_path)
    c.always_authenticated(BILLING, ETL)
    return c


def test_single_attempt_by_device_hostname(case):
    a = case.attempt("billing_daily", "fetch", at(0), at(5))
    rid = case.web(at(1), BILLING, "api.billing.example")
    case.analyze()
    assert case.attribution(rid) == ("attributed", a, "device+login", 1, 0.902)


def test_ip_when_no_device_hostname_and_fqdn_airflow_hostname(case):
    a = case.attempt("billing_daily", "fetch", at(0), at(5), hostname="worker-2.cluster.local")
    rid = case.web(at(1), BILLING, "api.billing.example", device=None, ip="10.0.0.2")
    case.analyze()
    status, attempt, method, n, _ = case.attribution(rid)
    assert (status, attempt, method, n) == ("attributed", a, "ip+login", 1)


def test_natted_request_is_matched_by_service_account_login(case):
    """Behind a NAT the IP says nothing; the login's allowed DAGs find the attempt."""
    a = case.attempt("billing_daily", "fetch", at(0), at(5), hostname="worker-2")
    case.attempt("etl_load", "load", at(0), at(5), hostname="worker-1")
    rid = case.web(at(1), BILLING, "api.billing.example", device=None, ip="198.51.100.20")
    case.analyze()
    assert case.attribution(rid)[:4] == ("attributed", a, "login+login", 1)


def test_concurrent_attempts_on_one_worker_told_apart_by_login(case):
    bill = case.attempt("billing_daily", "fetch", at(0), at(10))
    etl = case.attempt("etl_load", "load", at(2), at(12))
    r1 = case.web(at(3), BILLING, "api.billing.example")
    r2 = case.web(at(3), ETL, "db.warehouse.example")
    case.analyze()
    assert case.attribution(r1)[:2] == ("attributed", bill)
    assert case.attribution(r2)[:2] == ("attributed", etl)


def test_mapped_tasks_told_apart_by_the_host_their_log_named(case):
    ids = []
    for i in range(3):
        aid = case.attempt("etl_load", "load", at(0), at(10), map_index=i)
        case.hint(aid, f"shard-{i}.warehouse.example", at(1))
        ids.append(aid)
    rids = [case.zpa(at(2, i), ETL, f"shard-{i}.warehouse.example", hostname="worker-1.corp.example")
            for i in range(3)]
    case.analyze()
    for aid, rid in zip(ids, rids):
        assert case.attribution(rid)[:4] == ("attributed", aid, "device+login+host", 1)


def test_same_login_same_host_stays_ambiguous(case):
    a = case.attempt("etl_load", "load", at(0), at(10), map_index=0)
    b = case.attempt("etl_load", "load", at(0), at(10), map_index=1)
    rid = case.web(at(2), ETL, "db.warehouse.example")
    case.analyze()
    status, attempt, _, n, conf = case.attribution(rid)
    assert (status, attempt, n) == ("ambiguous", None, 2)
    assert conf == pytest.approx(0.451, abs=1e-3)
    cands = case.con.execute("SELECT candidate_attempts FROM attributions WHERE request_rid = ?", [rid]).fetchone()[0]
    assert sorted(cands) == sorted([a, b])


def test_no_attempt_running_is_unattributed(case):
    case.attempt("billing_daily", "fetch", at(0), at(5))
    rid = case.web(at(20), BILLING, "api.billing.example")
    other_worker = case.web(at(2), BILLING, "api.billing.example", device="worker-2.corp.example", ip="10.0.0.2")
    case.analyze()
    assert case.attribution(rid)[:4] == ("unattributed", None, "device", 0)
    assert case.attribution(other_worker)[0] == "unattributed"


def test_clock_skew_tolerance(case):
    """Zscaler's clock 4 s behind Airflow: still inside the 5 s tolerance; 7 s is not."""
    a = case.attempt("billing_daily", "fetch", at(10), at(12))
    inside = case.web(at(10, -4), BILLING, "api.billing.example")
    after = case.web(at(12, 5), BILLING, "api.billing.example")
    outside = case.web(at(10, -7), BILLING, "api.billing.example")
    case.analyze()
    assert case.attribution(inside)[:2] == ("attributed", a)
    assert case.attribution(after)[:2] == ("attributed", a)
    assert case.attribution(outside)[0] == "unattributed"


def test_retries_each_request_goes_to_its_try(case):
    t1 = case.attempt("billing_daily", "charge", at(0), at(2), try_number=1, state="failed")
    t2 = case.attempt("billing_daily", "charge", at(3), at(5), try_number=2)
    r1 = case.web(at(1), BILLING, "api.billing.example")
    r2 = case.web(at(4), BILLING, "api.billing.example")
    case.analyze()
    assert case.attribution(r1)[:2] == ("attributed", t1)
    assert case.attribution(r2)[:2] == ("attributed", t2)


def test_non_worker_traffic_is_not_attributed(case):
    rid = case.web(at(1), "alice@corp.example", "github.com", device="LAPTOP-1", ip="10.9.9.9")
    case.analyze()
    assert case.attribution(rid) is None


def test_long_attempt_spanning_many_short_ones(case):
    long = case.attempt("etl_load", "backfill", at(0), at(60))
    shorts = [case.attempt("billing_daily", "fetch", at(2 + 5 * i), at(4 + 5 * i), run_id=f"r{i}") for i in range(10)]
    rids = [case.web(at(3 + 5 * i), BILLING, "api.billing.example") for i in range(10)]
    etl_rid = case.web(at(30, 30), ETL, "db.warehouse.example")
    case.analyze()
    for aid, rid in zip(shorts, rids):
        assert case.attribution(rid)[:2] == ("attributed", aid)
    assert case.attribution(etl_rid)[:2] == ("attributed", long)


def test_reanalysis_replaces_the_period(case):
    case.attempt("billing_daily", "fetch", at(0), at(5))
    case.web(at(1), BILLING, "api.billing.example")
    case.analyze(since="2026-11-24", until="2026-11-25")
    case.analyze(since="2026-11-24", until="2026-11-25")
    case.analyze(since="2026-11-24T09:00:00Z", until="2026-11-24T11:00:00Z")
    assert case.con.execute("SELECT count(*) FROM attributions").fetchone()[0] == 1
    assert case.con.execute("SELECT count(*) FROM analysis_runs").fetchone()[0] == 2


def test_period_filters_requests_but_keeps_attempts_crossing_it(case):
    a = case.attempt("billing_daily", "fetch", at(-10), at(10))
    before = case.web(at(-5), BILLING, "api.billing.example")
    inside = case.web(at(5), BILLING, "api.billing.example")
    case.analyze(since=at(0), until=at(60))
    assert case.attribution(before) is None
    assert case.attribution(inside)[:2] == ("attributed", a)


def test_interval_join_does_not_pair_every_request_with_every_attempt(case):
    """2,000 sequential attempts and 4,000 requests: one candidate row per request, and the
    segment table grows with attempts (not attempts x requests)."""
    con = case.con
    con.execute("""
        INSERT INTO task_attempts (attempt_id, dag_id, run_id, task_id, map_index, try_number, hostname,
                                   start_time, end_time, state)
        SELECT 'a' || i, 'billing_daily', 'r' || i, 'fetch', -1, 1, 'worker-1',
               TIMESTAMPTZ '2026-11-24 10:00:00+00' + i * INTERVAL 60 SECOND,
               TIMESTAMPTZ '2026-11-24 10:00:00+00' + i * INTERVAL 60 SECOND + INTERVAL 40 SECOND, 'success'
        FROM range(2000) t(i)""")
    con.execute("""
        INSERT INTO zia_web (rid, event_time, login, client_ip, device_hostname, host, action, response_code,
                             file_id, source_file, source_line)
        SELECT 'w' || i, TIMESTAMPTZ '2026-11-24 10:00:10+00' + (i // 2) * INTERVAL 60 SECOND + (i % 2) * INTERVAL 10 SECOND,
               'svc-billing@corp.example', '10.0.0.1', 'worker-1.corp.example', 'api.billing.example', 'Allowed', 200,
               'f', 'f', i
        FROM range(4000) t(i)""")
    from zsaudit.analyze.correlate import correlate
    from zsaudit.identity_map import load

    counts = correlate(con, load(case.map_path), since=None, until=None, analysis_id="t")
    assert counts == {"attributed": 4000, "ambiguous": 0, "unattributed": 0}
    wrong = con.execute("""
        SELECT count(*) FROM _attr r JOIN _attempts a ON a.aidx = r.aidx
        WHERE a.attempt_id <> 'a' || (CAST(substr(r.rid, 2) AS INTEGER) // 2)
    """).fetchone()[0]
    assert wrong == 0


def test_correlation_steps_cover_queries_correlate():
    """The Spark engine runs the steps of queries/correlate/ in four groups where their data is
    (zsaudit/spark/analyze.py): a new step file must join one, or the engines would differ."""
    from zsaudit import queries
    from zsaudit.analyze import correlate

    steps = correlate.ATTEMPT_STEPS + correlate.REQUEST_STEPS + correlate.ATTRIBUTE_STEPS + correlate.STORE_STEPS
    assert list(steps) == queries.names("correlate")


def test_spark_job2_groups_fill_every_task_slot_and_keep_each_partition_once():
    """Job 2's groups of partitions (zsaudit/spark/analyze.py): at 10M requests in groups of ~1M,
    11 groups on 2 executors left one idle for a whole task at the end; the count is a multiple of
    the slots, every partition is in exactly one group, and the groups stay about equal."""
    from zsaudit.spark.analyze import _groups

    sizes = {pk: 100_000 + (pk * 7919) % 1000 for pk in range(105)}     # ~10.6M requests: 11 groups of 1M
    groups = _groups(sizes, 4, 1_000_000, slots=2)
    assert len(groups) % 2 == 0 and len(groups) >= 11
    assert sorted(pk for g in groups for pk in g) == sorted(sizes)
    loads = [sum(sizes[pk] for pk in g) for g in groups]
    assert max(loads) - min(loads) <= max(sizes.values())
    assert len(_groups(sizes, 4, 1_000_000, slots=1)) == 11      # one slot: no rounding
    assert len(_groups({1: 5, 2: 5, 3: 5}, 4, 1_000_000, slots=2)) == 3   # never more groups than partitions
    assert _groups({}, 4, 1_000_000, slots=2) == []
