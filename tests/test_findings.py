"""Each finding rule fires when it should and stays quiet when it should not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analysis_builder import BILLING, ETL, IDENTITY, Case, at

from zsaudit import identity_map

REPORTS = "svc-reports@corp.example"


@pytest.fixture
def case(store, tmp_path):
    c = Case(store, tmp_path)
    c.always_authenticated(BILLING, ETL)
    return c


def kinds(case):
    return sorted((f["kind"], f["subtype"]) for f in case.findings())


def only(case, kind):
    rows = case.findings(kind)
    assert len(rows) == 1, rows
    return rows[0]


def test_clean_night_has_no_findings(case):
    a = case.attempt("billing_daily", "fetch", at(0), at(5))
    case.hint(a, "api.billing.example", at(1))
    case.conn(a, "billing_api", at(1))
    case.web(at(1), BILLING, "api.billing.example")
    case.zpa(at(2), BILLING, "api.billing.example")
    summary = case.analyze()
    assert kinds(case) == []
    assert summary.findings == 0 and summary.attributed == 2


def test_a_small_analysis_runs_on_one_thread_unoptimized_and_the_settings_come_back(case, monkeypatch):
    """A small night is analysed on one DuckDB thread (its statements' set-up, not its rows, is the
    cost), ZSAUDIT_THREADS always wins; a small store's analysis is planned without DuckDB's
    optimizers but filter pushdown (bounded by the store's rows, not the period's); the instance
    gets its settings back for what follows, after a failed analysis too."""
    from zsaudit import queries
    from zsaudit.analyze import analysis
    a = case.attempt("billing_daily", "fetch", at(0), at(5))
    case.conn(a, "billing_api", at(1))
    case.web(at(1), BILLING, "api.billing.example")
    since, until = at(-60), at(60)
    settings = analysis.analysis_settings(case.con, since, until, None)
    off = settings.get("disabled_optimizers", "")
    assert {"join_order", "statistics_propagation"} <= set(off.split(","))
    assert "filter_pushdown" not in off.split(",")       # a join written in a WHERE stays a join
    assert settings == {"threads": 1, "disabled_optimizers": off}
    assert analysis.analysis_settings(case.con, since, until, object()) == {}      # Spark: its lake
    monkeypatch.setattr(analysis, "SMALL_PERIOD_REQUESTS", 1)
    assert analysis.analysis_settings(case.con, since, until, None) == {"disabled_optimizers": off}
    monkeypatch.setattr(analysis, "SMALL_PERIOD_REQUESTS", 50_000)
    monkeypatch.setattr(queries, "SMALL_STORE_ROWS", 3)                # a store of more rows: optimized
    assert analysis.analysis_settings(case.con, since, until, None) == {"threads": 1}
    monkeypatch.setattr(queries, "SMALL_STORE_ROWS", 100_000)
    monkeypatch.setenv("ZSAUDIT_THREADS", "3")
    assert analysis.analysis_settings(case.con, since, until, None) == {"disabled_optimizers": off}
    monkeypatch.delenv("ZSAUDIT_THREADS")
    queries.apply_settings(case.con, threads=2)
    seen = []
    real = analysis._analyze

    def spy(*args, **kwargs):
        threads, disabled = queries.setting(case.con, "threads", "disabled_optimizers")
        seen.append((threads, set(disabled.split(","))))
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "_analyze", spy)
    assert case.analyze(since=since, until=until).attributed == 1
    assert seen == [(1, set(off.split(",")))]
    assert queries.setting(case.con, "threads", "disabled_optimizers") == (2, "")

    def fail(*args, **kwargs):
        assert set(queries.setting(case.con, "disabled_optimizers").split(",")) == set(off.split(","))
        raise RuntimeError("an analysis that fails half-way")

    monkeypatch.setattr(analysis, "_analyze", fail)
    with pytest.raises(RuntimeError):
        case.analyze(since=since, until=until)
    assert queries.setting(case.con, "threads", "disabled_optimizers") == (2, "")


def test_an_unoptimized_instance_is_optimized_again_for_the_next_store(tmp_path):
    """disabled_optimizers is an instance's global setting: a store left without its optimizers (a
    small analysis' setting) never passes that to the next store the process opens on its kept
    instance, whose analysis of a large store needs them."""
    from zsaudit import queries
    from zsaudit.store import Store
    with Store(tmp_path / "small.duckdb") as small:
        queries.apply_settings(small.con, disabled_optimizers="join_order,statistics_propagation")
    with Store(tmp_path / "next.duckdb") as large:
        assert queries.setting(large.con, "disabled_optimizers") == ""


# -- unmapped_identity ---------------------------------------------------------------------
def test_unknown_login_from_worker(case):
    a = case.attempt("billing_daily", "fetch", at(0), at(5))
    rids = [case.web(at(1), "jdoe@corp.example", "api.partner.example"),
            case.web(at(2), "jdoe@corp.example", "api.partner.example")]
    case.analyze()
    f = only(case, "unmapped_identity")
    assert (f["subtype"], f["dag_id"], f["login"], f["severity"], f["status"]) == (
        "unknown_login", "billing_daily", "jdoe@corp.example", "high", "open")
    assert f["evidence_ids"] == rids and f["evidence_count"] == 2
    assert f["controls"] == ["CC6.1"]
    assert case.findings("token_gap") == []        # not a service account: no token check


def test_no_identity_location_login_and_zpa_special_user(case):
    case.attempt("billing_daily", "fetch", at(0), at(5))
    case.web(at(1), "DC1", "rates.example.org", location="DC1")
    case.web(at(2), None, "rates.example.org")
    case.zpa(at(3), "ZPA LSS Client", "db.internal")
    case.analyze()
    rows = case.findings("unmapped_identity")
    assert sorted((f["subtype"], f["login"] or "") for f in rows) == [
        ("no_identity", ""), ("no_identity", "DC1"), ("no_identity", "ZPA LSS Client")]


def test_service_account_used_by_a_dag_it_does_not_allow(case):
    case.attempt("adhoc_backfill", "reprocess", at(0), at(5))
    case.web(at(1), BILLING, "api.billing.example")
    case.analyze()
    f = only(case, "unmapped_identity")
    assert (f["subtype"], f["dag_id"], f["login"]) == ("dag_not_allowed", "adhoc_backfill", BILLING)


def test_service_account_reaching_a_host_its_allowed_hosts_do_not_list(case):
    a = case.attempt("etl_nightly", "load", at(0), at(5))
    case.web(at(1), ETL, "db.warehouse.example")              # *.warehouse.example: allowed
    rids = [case.web(at(2), ETL, "paste.example.net"), case.web(at(3), ETL, "paste.example.net")]
    case.web(at(4), ETL, "warehouse.example")                 # the glob wants a subdomain
    case.analyze()
    rows = sorted(case.findings("unmapped_identity"), key=lambda f: f["host"])
    assert [(f["subtype"], f["host"], f["dag_id"], f["login"]) for f in rows] == [
        ("host_not_allowed", "paste.example.net", "etl_nightly", ETL),
        ("host_not_allowed", "warehouse.example", "etl_nightly", ETL)]
    assert rows[0]["evidence_ids"] == rids and rows[0]["severity"] == "high"
    assert "allowed_hosts" in rows[0]["detail"] and a


def test_a_service_account_without_allowed_hosts_is_not_checked_for_hosts(case):
    case.identity(IDENTITY.replace('allowed_hosts = ["*.warehouse.example"]\n', ""))
    case.attempt("etl_nightly", "load", at(0), at(5))
    case.web(at(1), ETL, "paste.example.net")
    case.analyze()
    assert case.findings("unmapped_identity") == []


def test_allowed_dag_is_not_flagged(case):
    case.attempt("billing_weekly", "reprocess", at(0), at(5))
    case.web(at(1), BILLING, "api.billing.example")
    case.analyze()
    assert case.findings("unmapped_identity") == []


def test_connection_no_account_lists(case):
    a = case.attempt("billing_daily", "upload", at(0), at(5))
    case.conn(a, "billing_api", at(1), line=7)
    case.conn(a, "personal_gdrive", at(2), line=9)
    case.analyze()
    f = only(case, "unmapped_identity")
    assert (f["subtype"], f["conn_id"], f["severity"]) == ("conn_unlisted", "personal_gdrive", "medium")
    assert f["evidence_ids"] == [f"airflow:{a}:9"]


# -- token_gap -----------------------------------------------------------------------------
def test_request_between_sessions_is_a_token_gap(store, tmp_path):
    case = Case(store, tmp_path)
    case.session(REPORTS, at(-30), at(-20))            # ended early (disconnected)
    case.session(REPORTS, at(30))                      # next authentication
    case.identity(IDENTITY + '\n[[service_account]]\nname = "svc-reports"\n'
                  'zscaler_logins = ["svc-reports@corp.example"]\ndags = ["reports_*"]\n')
    a = case.attempt("reports_daily", "send", at(0), at(10))
    b = case.attempt("reports_daily", "send", at(12), at(20), run_id="run2", hostname="worker-2")
    r1 = case.web(at(1), REPORTS, "mail.reports.example")
    r2 = case.web(at(13), REPORTS, "mail.reports.example", device="worker-2.corp.example", ip="10.0.0.2")
    case.analyze()
    f = only(case, "token_gap")
    assert f["subtype"] == "no_session"
    assert (f["gap_start"], f["gap_end"]) == (at(-20), at(30))
    assert f["gap_seconds"] == 50 * 60
    assert sorted(f["attempts_hit"]) == sorted([a, b])
    assert f["evidence_ids"] == [r1, r2]
    assert f["dag_id"] is None          # two attempts hit: listed in attempts_hit


def test_token_lifetime_expiry_is_a_gap(store, tmp_path):
    case = Case(store, tmp_path)
    case.session(ETL, at(0))                                # never disconnected, but 15m lifetime
    case.attempt("etl_load", "load", at(0), at(30))
    ok = case.web(at(14), ETL, "db.warehouse.example")
    late = case.web(at(16), ETL, "db.warehouse.example")
    case.analyze()
    f = only(case, "token_gap")
    assert f["evidence_ids"] == [late] and ok not in f["evidence_ids"]
    assert (f["gap_start"], f["gap_end"]) == (at(15), None)


def test_overlapping_token_windows_leave_no_gap(store, tmp_path):
    """A short session inside a longer one, and a disconnect while another session is valid."""
    case = Case(store, tmp_path)
    case.session(ETL, at(0), at(14))
    case.session(ETL, at(5), at(6))                     # short overlapping session
    case.session(ETL, at(10), at(24))                   # overlaps the first
    case.attempt("etl_load", "load", at(0), at(25))
    for m in (1, 5.5, 7, 12, 20, 23.9):
        case.web(at(m), ETL, "db.warehouse.example")
    case.analyze()
    assert case.findings("token_gap") == []


def test_clock_skew_at_session_edges(store, tmp_path):
    case = Case(store, tmp_path)
    case.session(ETL, at(0), at(10))
    case.attempt("etl_load", "load", at(-1), at(11))
    case.web(at(0, -3), ETL, "db.warehouse.example")     # 3 s before authentication: within 5 s
    case.web(at(10, 4), ETL, "db.warehouse.example")     # 4 s after: within 5 s
    case.analyze()
    assert case.findings("token_gap") == []


def test_a_refusal_by_airflows_execution_api_is_no_token_gap_of_that_attempt_only(store, tmp_path):
    """A refused request to the host an attempt's log calls under /execution/, while that log reports
    the execution API refusing its token, is Airflow's own token (rules.toml [airflow_token]); the
    same host refused to another attempt at the same time, whose log reports nothing, is a token_gap.
    (The logs searched are only those of attempts with a refused request: token_gap.sql.)"""
    case = Case(store, tmp_path)
    case.always_authenticated(ETL)
    a = case.attempt("etl_load", "load", at(0), at(10))
    case.attempt("etl_load", "load", at(0), at(10), run_id="run2", hostname="worker-2")
    api = "airflow-api.corp.example"
    case.con.execute("INSERT INTO task_egress_hints (attempt_id, dag_id, run_id, task_id, map_index, try_number, "
                     "event_time, url, host, source_line) VALUES (?, 'etl_load', 'run1', 'load', -1, 1, ?, ?, ?, 20)",
                     [a, at(1), f"http://{api}/execution/task-instances/0198/heartbeat", api])
    case.con.execute("INSERT INTO airflow_log_lines (attempt_id, log_file, source_line, event_time, level, message) "
                     "VALUES (?, 'a.log', 30, ?, 'ERROR', 'Invalid auth token')", [a, at(2)])
    case.web(at(3), ETL, api, code=401)                                                 # attempt a's own token
    other = case.web(at(3), ETL, api, device="worker-2.corp.example", ip="10.0.0.2", code=401)
    case.analyze()
    f = only(case, "token_gap")
    assert (f["subtype"], f["evidence_ids"]) == ("refused", [other])


def test_refusals_for_authentication(case):
    a = case.attempt("billing_daily", "charge", at(0), at(5), state="failed")
    e = case.attempt("etl_load", "sync", at(0), at(5), state="failed", hostname="worker-2")
    r1 = case.web(at(1), BILLING, "api.billing.example", action="Blocked", code=407, reason="Fake Proxy Authentication")
    r2 = case.web(at(2), BILLING, "api.billing.example", action="Blocked", code=403,
                  reason="Unenrolled user is not allowed to establish SSL connection")
    r3 = case.zpa(at(3), ETL, "db.warehouse.example", ip="10.0.0.2", reason="ZPN_ERR_AUTH_EXPIRED")
    case.web(at(4), BILLING, "api.billing.example", action="Blocked", code=403, reason="Not allowed to browse this category")
    case.analyze()
    rows = {f["login"]: f for f in case.findings("token_gap")}
    assert set(rows) == {BILLING, ETL}
    assert rows[BILLING]["subtype"] == "refused" and rows[BILLING]["severity"] == "high"
    assert rows[BILLING]["evidence_ids"] == [r1, r2] and rows[BILLING]["attempts_hit"] == [a]
    assert (rows[BILLING]["gap_start"], rows[BILLING]["gap_end"]) == (at(1), at(2))
    assert rows[ETL]["evidence_ids"] == [r3] and rows[ETL]["attempts_hit"] == [e]
    assert case.findings("silent_failure") == []         # the attempts failed: not silent


def test_login_without_zpa_status_is_not_evaluable(store, tmp_path):
    case = Case(store, tmp_path)
    case.attempt("billing_daily", "fetch", at(0), at(5))
    case.web(at(1), BILLING, "api.billing.example")
    case.analyze()
    assert case.findings("token_gap") == []
    [(check, _, login, reason)] = case.not_evaluable("token_gap")
    assert login == BILLING and "no ZPA user status" in reason


# -- silent_failure ------------------------------------------------------------------------
def test_success_with_blocked_request_is_a_silent_failure(case):
    a = case.attempt("etl_load", "load", at(0), at(5))
    case.web(at(1), ETL, "db.warehouse.example")
    blocked = case.web(at(2), ETL, "db.warehouse.example", action="Blocked", code=403,
                       reason="Not allowed to browse this category")
    zpa_fail = case.zpa(at(3), ETL, "db.warehouse.example", reason="BRK_MT_SETUP_FAIL_REJECTED_BY_POLICY")
    case.zpa(at(4), ETL, "db.warehouse.example", reason="MT_CLOSED_TERMINATED")    # normal close
    case.analyze()
    f = only(case, "silent_failure")
    assert (f["dag_id"], f["evidence_ids"], f["severity"]) == ("etl_load", [blocked, zpa_fail], "high")
    assert "CC7.2" in f["controls"]


def test_failed_attempt_with_blocked_request_is_not_silent(case):
    case.attempt("etl_load", "load", at(0), at(5), state="failed")
    case.web(at(2), ETL, "db.warehouse.example", action="Blocked", code=403)
    case.analyze()
    assert case.findings("silent_failure") == []


def test_ambiguous_blocked_request_is_not_pinned_on_an_attempt(case):
    case.attempt("etl_load", "load", at(0), at(5), map_index=0)
    case.attempt("etl_load", "load", at(0), at(5), map_index=1)
    case.web(at(2), ETL, "db.warehouse.example", action="Blocked", code=403)
    case.analyze()
    assert case.findings("silent_failure") == []


def test_unknown_state_is_not_evaluable(case):
    a = case.attempt("etl_load", "load", at(0), at(5), state="unknown")
    case.analyze()
    assert ("silent_failure", a) in [(c, aid) for c, aid, _, _ in case.not_evaluable()]


# -- egress_bypass -------------------------------------------------------------------------
def test_logged_host_without_zscaler_record_is_a_bypass(case):
    a = case.attempt("billing_daily", "fetch", at(0), at(5))
    case.hint(a, "api.billing.example", at(1))
    case.hint(a, "hooks.partner.example", at(2), line=31)
    case.hint(a, "localhost", at(2))
    case.web(at(1), BILLING, "api.billing.example")
    case.web(at(10), BILLING, "hooks.partner.example")          # after the attempt: does not count
    case.web(at(2), BILLING, "hooks.partner.example", device="worker-2.corp.example", ip="10.0.0.2")  # other worker
    case.analyze()
    f = only(case, "egress_bypass")
    assert (f["host"], f["severity"], f["evidence_ids"]) == ("hooks.partner.example", "critical", [f"airflow:{a}:31"])


def test_record_from_a_concurrent_attempt_on_the_same_worker_counts(case):
    a = case.attempt("billing_daily", "fetch", at(0), at(5))
    case.attempt("etl_load", "load", at(0), at(5))
    case.hint(a, "db.warehouse.example", at(1))
    case.web(at(2), ETL, "db.warehouse.example")
    case.analyze()
    assert case.findings("egress_bypass") == []


def test_attempts_without_host_or_without_logged_hosts_are_not_evaluable(case):
    no_host = case.attempt("billing_daily", "a", at(0), at(5), hostname=None)
    unknown = case.attempt("billing_daily", "b", at(0), at(5), hostname="gpu-box-7")
    quiet = case.attempt("billing_daily", "c", at(0), at(5))
    logged = case.attempt("billing_daily", "d", at(0), at(5), hostname="worker-2")
    case.hint(logged, "api.billing.example", at(1))
    case.web(at(1), BILLING, "api.billing.example", device="worker-2.corp.example", ip="10.0.0.2")
    case.analyze()
    rows = {aid: reason for check, aid, _, reason in case.not_evaluable("egress_bypass")}
    assert set(rows) == {no_host, unknown, quiet}
    assert rows[no_host].startswith("no host known for the attempt")
    assert rows[unknown] == "the attempt's host gpu-box-7 is not a [[worker]] in the identity map"
    assert rows[quiet].startswith("the log names no outbound host")


# -- unattributed_egress -------------------------------------------------------------------
def test_worker_traffic_with_no_attempt_running(case):
    case.attempt("etl_load", "load", at(0), at(5))
    rids = [case.web(at(20 + i), ETL, "repo.pypi.example") for i in range(3)]
    case.web(at(2), ETL, "db.warehouse.example")
    case.analyze()
    f = only(case, "unattributed_egress")
    assert (f["worker"], f["login"], f["host"], f["evidence_ids"]) == ("worker-1", ETL, "repo.pypi.example", rids)
    assert f["dag_id"] is None


# -- exceptions ----------------------------------------------------------------------------
def exception(expires: str) -> str:
    return "\n" + identity_map.dumps(exceptions=[{
        "kind": "unmapped_identity", "match": {"login": "jdoe@corp.example", "dag": "billing_*"},
        "approver": "jane.doe@corp.example", "reason": "pilot", "ticket": "SEC-1", "expires": expires}])


@pytest.mark.parametrize("expires,status", [("2026-11-24", "accepted"), ("2026-11-23", "open")])
def test_exception_accepts_until_it_expires(case, expires, status):
    case.identity(IDENTITY + exception(expires))
    case.attempt("billing_daily", "fetch", at(0), at(5))
    case.attempt("etl_load", "load", at(0), at(5), hostname="worker-2", state="running")   # not evaluable
    case.web(at(1), "jdoe@corp.example", "api.partner.example")
    summary = case.analyze()
    f = only(case, "unmapped_identity")
    assert f["status"] == status
    # the summary's counts (one statement: queries/analyze/counts.sql) are the stored rows'
    assert summary.accepted == (status == "accepted")
    assert summary.open_by_severity == ({} if status == "accepted" else {f["severity"]: 1})
    assert summary.findings_by_kind["unmapped_identity"] == 1 and summary.findings == 1
    stored = case.con.execute("SELECT check_kind, count(*) FROM not_evaluable GROUP BY ALL ORDER BY ALL").fetchall()
    assert list(summary.not_evaluable_by_check.items()) == stored and len(stored) > 1    # in check order
    if status == "accepted":
        assert (f["exception_approver"], f["exception_ticket"], str(f["exception_expires"])) == (
            "jane.doe@corp.example", "SEC-1", "2026-11-24")
        assert f["exception_note"] is None
    else:
        assert f["exception_approver"] is None
        assert f["exception_note"] == ("exception #1 (SEC-1, approved by jane.doe@corp.example) matches but "
                                       "expired on 2026-11-23; the finding is open")


def test_exception_for_another_dag_does_not_match(case):
    case.identity(IDENTITY + exception("2030-01-01"))
    case.attempt("etl_load", "load", at(0), at(5))
    case.web(at(1), "jdoe@corp.example", "api.partner.example")
    case.analyze()
    f = only(case, "unmapped_identity")
    assert f["status"] == "open" and f["exception_note"] is None


# -- identity and re-runs ------------------------------------------------------------------
def test_finding_ids_are_stable_and_reruns_replace(case, tmp_path):
    from zsaudit.store import Store

    def build(c):
        c.attempt("adhoc_backfill", "reprocess", at(0), at(5))
        c.web(at(1), BILLING, "api.billing.example")
        c.web(at(20), ETL, "repo.pypi.example")

    build(case)
    case.analyze(since="2026-11-24", until="2026-11-25")
    first = sorted(f["finding_id"] for f in case.findings())
    case.analyze(since="2026-11-24", until="2026-11-25")
    case.analyze()                                       # another period: same findings move, no copies
    assert sorted(f["finding_id"] for f in case.findings()) == first and len(first) == 3

    other = Store(tmp_path / "other.duckdb")
    try:
        c2 = Case(other, tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path)
        c2.always_authenticated(BILLING, ETL)
        build(c2)
        c2.analyze(since="2026-11-24", until="2026-11-25")
        assert sorted(f["finding_id"] for f in c2.findings()) == first
    finally:
        other.close()


def test_rule_metadata_is_validated(tmp_path):
    from zsaudit.errors import BadInput
    from zsaudit.analyze.rules import load_rules, parse_rules
    from zsaudit.resources import queries_dir

    text = (queries_dir() / "findings" / "rules.toml").read_text()
    assert set(load_rules().rules) == {"unmapped_identity", "token_gap", "silent_failure", "egress_bypass",
                                       "unattributed_egress", "coverage_gap"}
    with pytest.raises(BadInput, match="key 'severity': expected one of low, medium, high, critical, got 'urgent'"):
        parse_rules(text.replace('severity = "critical"', 'severity = "urgent"'), "rules.toml")
    with pytest.raises(BadInput, match="#4: key 'kind': 'token_gap' has an earlier rule"):
        parse_rules(text.replace('kind = "egress_bypass"', 'kind = "token_gap"'), "rules.toml")
    head = text[: text.index('[[rule]]\nkind = "unattributed_egress"')]
    with pytest.raises(BadInput, match="no rule for kind 'unattributed_egress'"):
        parse_rules(head + text[text.index("[auth]"):], "rules.toml")
    with pytest.raises(BadInput, match="key 'controls'"):
        parse_rules(text.replace('controls = ["CC6.6", "CC6.7"]', "controls = []"), "rules.toml")


# -- what an analysis leaves behind ------------------------------------------------------------
def test_an_analysis_leaves_no_temp_table_and_counts_its_period(case):
    """The steps' tables are dropped when the analysis ends: the correlator's scratch tables by the
    correlator (correlate.finish; the analysis' steps drop only what correlation hands on), the
    rest by the steps. analyze/period_size.sql counts the period's requests (one thread below
    SMALL_PERIOD_REQUESTS), store/size.sql the store's rows (no optimizers below SMALL_STORE_ROWS)."""
    from zsaudit import queries

    a = case.attempt("billing_daily", "fetch", at(0), at(5))
    case.hint(a, "api.billing.example", at(1))
    case.web(at(1), BILLING, "api.billing.example")
    case.web(at(2), "jdoe@corp.example", "api.partner.example")
    case.analyze()
    assert case.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall() == []
    assert queries.scalar(case.con, "analyze/period_size", {"since": at(-60), "until": at(60)}) == 2
    assert queries.small_store_settings(case.con)["disabled_optimizers"] == queries.one(case.con, "store/size")[1]
