"""Property: a record written by nss_writer in any supported feed format reads back equal.

Values are drawn from what each feed can carry unambiguously: free-text fields use characters
NSS does not need to escape (no quotes, tabs, '=', '|', braces); URL-like fields are e*-encoded
by the writer and may hold anything. Placeholder values (None, NA, 0.0.0.0) read back as NULL by
design, so they are not drawn.
"""

from __future__ import annotations

import re
import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fresh_store import new_store
from zsaudit.ingest import nss_writer, zscaler
from zsaudit.ingest.nss_fields import COLUMNS, NSS_VARS, PLACEHOLDERS
from zsaudit.store import Store

SAFE = string.ascii_letters + string.digits + " -_./:@()&?;+#!~*'"
WIDE = SAFE + "=%\"',\\|{}<>[]^`\té中"
URLISH = {"url", "host", "referer"}

free_text = st.text(SAFE, min_size=1, max_size=24).map(str.strip).filter(
    lambda s: s and s not in PLACEHOLDERS and not s.isdigit())
urlish_text = st.text(WIDE, min_size=1, max_size=40).filter(
    lambda s: s.strip() == s and s and s not in PLACEHOLDERS)
times = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2035, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=timezone.utc))
ipv4 = st.tuples(*[st.integers(1, 254)] * 4).map(lambda t: ".".join(map(str, t)))


def _value_strategy(table: str, col: str, kind: str):
    if kind == "ts":
        return times
    if kind == "ip":
        return ipv4
    if kind == "port":
        return st.integers(1, 65535)
    if kind == "int":
        return st.integers(100, 599) if col == "response_code" else st.integers(0, 100)
    if kind == "big":
        return st.integers(0, 2**40)
    if table == "zia_web" and col in URLISH:
        return urlish_text
    return free_text


def derived_host(url: str | None) -> str | None:
    """The host ingest takes from a URL when the feed gives none (zscaler_sql.host_from_url)."""
    if url is None:
        return None
    auth = re.sub(r"^.*@", "", re.match(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?([^/?#\\]*)", url).group(1))
    if auth.startswith("["):
        m = re.match(r"^\[([^\]]*)\]", auth)
        host = m.group(1) if m else ""
    elif auth.count(":") >= 2:
        host = auth
    else:
        host = re.sub(r":[0-9]*$", "", auth)
    return host.lower() or None


def expected(table: str, recs: list[dict]) -> list[dict]:
    """What the records read back as: themselves, with web hosts taken from the URL where missing."""
    want = [{c: r.get(c) for c in COLUMNS[table]} for r in recs]
    if table == "zia_web":
        for w in want:
            if w["host"] is None:
                w["host"] = derived_host(w["url"])
    return want


def records(table: str):
    fields = {}
    for col, kind in COLUMNS[table].items():
        value = _value_strategy(table, col, kind)
        fields[col] = value if col == "event_time" else st.one_of(st.none(), value)
    # up to 8 records a file: each example is one ingest (~0.1 CPU-s fixed), so a property sees as
    # many records in half the examples it needed with up to 4 (docs/benchmarks.md, "Test suite time")
    return st.lists(st.fixed_dictionaries(fields), min_size=1, max_size=8)


def full_fields(table: str, delim: str) -> str:
    names = ["time" if c == "event_time" else v for c, v in NSS_VARS[table].items()]
    if delim == ",":
        return ",".join(f'"%s{{{n}}}"' for n in names)
    return "\\t".join(f"%s{{{n}}}" for n in names)


CASES = [(t, f, None) for t in ("zia_web", "zia_firewall", "zia_dns") for f in nss_writer.FORMATS]
CASES += [(t, f, full_fields(t, d)) for t in ("zia_web", "zia_firewall", "zia_dns")
          for f, d in (("csv", ","), ("tsv", "\t"))]
CASES += [("zpa_user_activity", "json", None), ("zpa_user_status", "json", None)]


def read_back(tmp_path, table, fmt, recs, fields, store=None):
    out = tmp_path / f"feed-{table}-{fmt}{'-fields' if fields else ''}.log"
    nss_writer.write(recs, table, fmt, out, fields=fields)
    own = store is None
    store = store or Store(tmp_path / "rt.duckdb")
    try:
        for t in ("ingest_ledger", "rejects", table):
            store.con.execute(f"DELETE FROM {t}")
        (res,) = zscaler.ingest_paths(store, [out], fields=fields)
        cols = list(COLUMNS[table])
        got = store.con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY source_line").fetchall()
        rejects = store.con.execute("SELECT source_line, reason FROM rejects").fetchall()
    finally:
        if own:
            store.close()
    return res, [dict(zip(cols, r)) for r in got], rejects


def _once(rows: list[dict]) -> list[dict]:
    """Each record once, the first copy (docs/formats.md: time + recordid, else the whole record)."""
    seen, out = set(), []
    for r in rows:
        key = (r["event_time"], r["record_id"]) if r.get("record_id") is not None else tuple(r.items())
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


@pytest.mark.parametrize("table,fmt,fields", CASES,
                         ids=[f"{t}-{f}{'-fields' if x else ''}" for t, f, x in CASES])
def test_written_records_read_back_equal(tmp_path, table, fmt, fields):
    store = new_store(tmp_path / "rt.duckdb")

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(records(table))
    def check(recs):
        res, got, rejects = read_back(tmp_path, table, fmt, recs, fields, store)
        assert rejects == []
        assert (res.source_kind, res.format) == (table, fmt)
        want = _once(expected(table, recs))
        assert (res.rows_loaded, res.rows_duplicate) == (len(want), len(recs) - len(want))
        assert got == want

    try:
        check()
    finally:
        store.close()


def test_formats_agree_on_the_same_records(tmp_path):
    """One fixed set of records in every format gives identical rows."""
    base = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
    recs = [{"event_time": base + timedelta(seconds=i), "login": f"svc-{i}@corp.example",
             "url": f"api.example.com/v1/items?id={i}&q=a b|c", "host": "api.example.com",
             "action": "Allowed" if i % 2 else "Blocked", "reason": "Allowed" if i % 2 else "Not allowed to browse this category",
             "response_code": 200 if i % 2 else 403, "client_ip": "10.20.0.11",
             "device_hostname": "airflow-worker-1.corp.example", "user_agent": "python-requests/2.31 (x; y)",
             "request_size": 100 + i, "record_id": 1000 + i} for i in range(5)]
    seen = {}
    for fmt in nss_writer.FORMATS:
        _, got, rejects = read_back(tmp_path, "zia_web", fmt, recs, None)
        assert rejects == []
        seen[fmt] = got
    first = seen["json"]
    assert first[0]["url"] == "api.example.com/v1/items?id=0&q=a b|c"
    assert first[0]["event_time"] == base
    for fmt, got in seen.items():
        assert got == first, fmt


# -- URL-only templates: the host comes from the URL (issue 13, class 2) ------------------------
label = st.text(string.ascii_letters + string.digits, min_size=1, max_size=10)
hostnames = st.lists(label, min_size=1, max_size=4).map(".".join)
ipv6 = st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8).map(lambda g: ":".join(f"{x:x}" for x in g))
url_parts = st.fixed_dictionaries({
    "scheme": st.sampled_from(["", "http://", "https://", "ftp://"]),
    "userinfo": st.sampled_from(["", "svc@", "svc:pw@"]),
    "host": st.one_of(hostnames, ipv4, ipv6),
    "port": st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    "rest": st.sampled_from(["", "/", "/v1/items?id=1&q=a", "/a@b/c", "?x=1", "#frag"]),
})


def _url(p: dict) -> str:
    host = f"[{p['host']}]" if ":" in p["host"] else p["host"]
    return f"{p['scheme']}{p['userinfo']}{host}{p['port']}{p['rest']}"


def test_derived_hosts_stay_with_their_rows_whatever_the_connection_allows(tmp_path):
    """Rows with and without a host in one file: each row without one gets its own URL's host
    (taken after the batch SQL, in the URLs' order), even on a connection whose caller let DuckDB
    reorder results (preserve_insertion_order off), and that caller's setting is left as it was."""
    from zsaudit import queries

    store = new_store(tmp_path / "rt.duckdb")
    queries.apply_settings(store.con, preserve_insertion_order=False)
    t = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)
    recs = [{"event_time": t, "login": f"svc{i}@corp.example", "url": f"https://h{i}.example:8443/p?i={i}",
             "host": None if i % 3 else f"given{i}.example", "request_method": "GET", "response_code": 200,
             "action": "Allowed"} for i in range(3000)]
    try:
        res, got, rejects = read_back(tmp_path, "zia_web", "json", recs, None, store)
        assert rejects == [] and len(got) == len(recs)
        assert [g["host"] for g in got] == [r["host"] or f"h{i}.example" for i, r in enumerate(recs)]
        assert res.hosts_derived == sum(1 for r in recs if r["host"] is None)
        assert queries.setting(store.con, "preserve_insertion_order") is False
    finally:
        store.close()


@pytest.mark.parametrize("fmt", ["csv", "json", "kv"])
def test_url_only_templates_derive_the_host(tmp_path, fmt):
    """Feeds without %s{host} (the default NSS CSV; Elastic's JSON; a kv template without
    hostname) read the host out of the URL, lower-cased, without userinfo, port or brackets."""
    from zsaudit.ingest.nss_fields import DEFAULT_FIELDS

    store = new_store(tmp_path / "rt.duckdb")

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(url_parts, min_size=1, max_size=10), times)
    def check(parts, t):
        recs = [{"event_time": t, "login": f"svc{i}@corp.example", "url": _url(p), "host": None,   # distinct
                 "request_method": "GET", "response_code": 200, "action": "Allowed"} for i, p in enumerate(parts)]
        fields = DEFAULT_FIELDS["zia_web"] if fmt == "csv" else None
        res, got, rejects = read_back(tmp_path, "zia_web", fmt, recs, fields, store)
        assert rejects == []
        assert [g["host"] for g in got] == [p["host"].lower() for p in parts]
        assert [g["url"] for g in got] == [r["url"] for r in recs]
        assert res.hosts_derived == len(recs)

    try:
        check()
    finally:
        store.close()


# -- LEEF with a declared time format (devTimeFormat, issue 13, class 1) ------------------------
JAVA_PATTERNS = ["MMM dd yyyy HH:mm:ss z", "EEE MMM d HH:mm:ss zzz yyyy", "dd/MM/yyyy hh:mm:ss a z",
                 "yyyy-MM-dd'T'HH:mm:ssZ", "MMMM d, yyyy H:mm:ss z", "dd.MM.yyyy HH:mm:ss"]


@pytest.mark.parametrize("table", ["zia_web", "zia_firewall", "zia_dns"])
def test_leef_with_a_declared_time_format_reads_back(tmp_path, table):
    """Whatever pattern devTimeFormat declares (day before month included), devTime reads right."""
    store = new_store(tmp_path / "rt.duckdb")

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(records(table), st.sampled_from(JAVA_PATTERNS))
    def check(recs, pattern):
        out = tmp_path / f"declared-{table}.leef"
        nss_writer.write(recs, table, "leef", out, leef_time=pattern)
        for t in ("ingest_ledger", "rejects", table):
            store.con.execute(f"DELETE FROM {t}")
        (res,) = zscaler.ingest_paths(store, [out])
        assert store.con.execute("SELECT source_line, reason FROM rejects").fetchall() == []
        got = [r[0] for r in store.con.execute(f"SELECT event_time FROM {table} ORDER BY source_line").fetchall()]
        assert got == [r["event_time"] for r in _once(expected(table, recs))]  # each record once

    try:
        check()
    finally:
        store.close()


# -- Splunk key=value as SC4S delivers it (issue 13, class 3) -----------------------------------
@pytest.mark.parametrize("table,prefix,quote", [("zia_web", "sc4s", True), ("zia_firewall", "pri", False),
                                                ("zia_dns", "bsd", True), ("zia_web", None, True)])
def test_kv_with_a_syslog_prefix_and_quoted_values_reads_back(tmp_path, table, prefix, quote):
    store = new_store(tmp_path / "rt.duckdb")

    @settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(records(table))
    def check(recs):
        out = tmp_path / f"kv-{table}.log"
        nss_writer.write(recs, table, "kv", out, kv_prefix=prefix, kv_quote=quote)
        for t in ("ingest_ledger", "rejects", table):
            store.con.execute(f"DELETE FROM {t}")
        (res,) = zscaler.ingest_paths(store, [out])     # auto-detected
        assert (res.format, res.source_kind) == ("kv", table)
        assert store.con.execute("SELECT source_line, reason FROM rejects").fetchall() == []
        cols = list(COLUMNS[table])
        got = store.con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY source_line").fetchall()
        assert [dict(zip(cols, r)) for r in got] == _once(expected(table, recs))

    try:
        check()
    finally:
        store.close()


# -- firewall keys in the DNS feed's style (clt_sip, srv_dport, ...; issue 13, class 4) -----------
@pytest.mark.parametrize("fmt", ["json", "kv"])
def test_firewall_with_dns_style_keys_reads_back(tmp_path, fmt):
    store = new_store(tmp_path / "rt.duckdb")

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(records("zia_firewall"))
    def check(recs):
        out = tmp_path / f"fw-dns-style.{fmt}"
        nss_writer.write(recs, "zia_firewall", fmt, out, fw_dns_style=True)
        assert "clt_sip" in out.read_text() or fmt == "kv"
        for t in ("ingest_ledger", "rejects", "zia_firewall"):
            store.con.execute(f"DELETE FROM {t}")
        (res,) = zscaler.ingest_paths(store, [out])
        assert store.con.execute("SELECT source_line, reason FROM rejects").fetchall() == []
        cols = list(COLUMNS["zia_firewall"])
        got = store.con.execute(f"SELECT {', '.join(cols)} FROM zia_firewall ORDER BY source_line").fetchall()
        assert [dict(zip(cols, r)) for r in got] == _once(expected("zia_firewall", recs))

    try:
        check()
    finally:
        store.close()
