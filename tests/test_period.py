"""A quarter of synthetic nights (issue 16): the finding lifecycle and the period pack against the
truth the test computes from the synthetic inputs (zsaudit synth --nights: findings that appear,
persist, get resolved and come back, an exception that expires, a two-night Zscaler outage)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.analyze.analysis import analyze
from zsaudit.analyze.rules import load_rules
from zsaudit.ingest import airflow, zscaler
from zsaudit.store import Store

NIGHTS = 90
ZSCALER_FEEDS = ("zia_web.json", "zpa_user_activity.json", "zpa_user_status.json")
START = date(2026, 7, 1)
SEED = 5



def _key(kind, subtype, dag_id, task_id, worker, login, host, conn_id):
    """What a finding is about across nights, as the test sees it in the synthetic truth."""
    low = lambda v: v.lower() if v else None  # noqa: E731
    return (kind, subtype, dag_id, task_id if dag_id else None, None if dag_id else worker, low(login), low(host),
            conn_id)


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    """90 nights synthesized, ingested (each Zscaler source, and the Airflow REST export of task
    instances, as one file for the quarter: the per-file cost would dominate otherwise; the task
    logs as written, one folder a night) and analysed night by night."""
    base = tmp_path_factory.mktemp("quarter")
    result = CliRunner().invoke(main, ["synth", "--out", str(base / "in"), "--nights", str(NIGHTS), "--start",
                                       START.isoformat(), "--requests", "100", "--seed", str(SEED), "--quiet"])
    assert result.exit_code == 0, result.output
    truth = json.loads((base / "in" / "truth.json").read_text())
    feeds = base / "feeds"
    feeds.mkdir()
    for name in ZSCALER_FEEDS:
        with open(feeds / name, "wb") as out:
            for night in sorted((base / "in" / "zscaler").iterdir()):
                out.write((night / name).read_bytes())
    nights = sorted((base / "in" / "airflow").iterdir())
    exported = [ti for night in nights
                for ti in json.loads((night / "task_instances.json").read_text())["task_instances"]]
    (feeds / "task_instances.json").write_text(json.dumps({"task_instances": exported, "total_entries": len(exported)}))
    db = base / "zsaudit.duckdb"
    with Store(db) as store:
        zscaler.ingest_paths(store, [str(feeds / name) for name in ZSCALER_FEEDS])
        airflow.ingest_paths(store, [str(night / "logs") for night in nights] + [str(feeds / "task_instances.json")])
        for i in range(NIGHTS):
            night = datetime.combine(START + timedelta(days=i), datetime.min.time(), tzinfo=timezone.utc)
            analyze(store, base / "in" / "identity.toml", since=night, until=night + timedelta(days=1))
    return {"base": base, "db": db, "truth": truth}


def _expected_lifecycle(truth: dict) -> dict:
    """Per subject, from the synthetic inputs alone: observed status per night (None on an outage
    night: the Zscaler-side evidence is missing, so nothing can be resolved), then the state machine."""
    outage = set(truth["outage"])
    # the nights of 2026-Q3: the 90 synthesized, then two the store has no analysis of
    nights = [(date(2026, 7, 1) + timedelta(days=i)).isoformat() for i in range(92)]
    outage |= set(nights) - {n["night"] for n in truth["per_night"]}   # nothing resolves there either
    seen: dict[tuple, dict[str, str]] = {}
    for n in truth["per_night"]:
        if n["night"] in outage:
            continue
        for f in n["findings"]:
            k = _key(f["kind"], f["subtype"], f["dag_id"], f["task_id"], f["worker"], f["login"], f["host"],
                     f["conn_id"])
            seen.setdefault(k, {})[n["night"]] = f["status"]
    for source in ("zia_web", "zpa"):  # the outage itself: one coverage_gap per silent source and night
        seen[("coverage_gap", "no_data", source)] = {d: "open" for d in truth["outage"]}
    out = {}
    for k, obs in seen.items():
        first = min(obs)
        status, prev, runs = None, None, []
        counts = {"open": 0, "accepted": 0, "ne": 0, "reopened": 0}
        for night in nights[nights.index(first):]:
            missing = night not in {n["night"] for n in truth["per_night"]}
            event = obs.get(night) or (None if missing or (night in outage and k[0] != "coverage_gap") else "resolved")
            if event in ("open", "accepted"):
                counts[event] += 1
            elif event is None:
                counts["ne"] += 1
            if event is not None:
                if prev == "resolved" and event != "resolved":
                    counts["reopened"] += 1
                if event != status:
                    runs.append((event, night))
                status = prev = event
        resolved_on = runs[-1][1] if status == "resolved" else None
        out[k] = {"first_seen": first, "last_seen": max(obs), "status": status, "resolved_on": resolved_on,
                  "days_to_resolve": (date.fromisoformat(resolved_on) - date.fromisoformat(first)).days
                  if resolved_on else None,
                  "nights_open": counts["open"], "nights_accepted": counts["accepted"],
                  "nights_not_evaluable": counts["ne"], "reopened": counts["reopened"],
                  "history": ", ".join(f"{s} {d}" for s, d in runs)}
    return out


def _history_json(db: Path) -> list[dict]:
    result = CliRunner().invoke(main, ["findings", "--history", "--period", "2026-Q3", "--format", "json",
                                       "--db", str(db)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.slow
def test_lifecycle_matches_the_synthetic_truth(quarter):
    expected = _expected_lifecycle(quarter["truth"])
    rows = _history_json(quarter["db"])
    got = {}
    for r in rows:
        if r["kind"] == "coverage_gap":
            k = ("coverage_gap", r["subtype"], r["subject"].split("|")[2].removeprefix("source:"))
        else:
            k = _key(r["kind"], r["subtype"], r["dag_id"], r["task_id"], r["worker"], r["login"], r["host"],
                     r["conn_id"])
        assert k not in got, f"two lifecycle rows for one subject {k}"
        got[k] = {f: r[f] for f in ("first_seen", "last_seen", "status", "resolved_on", "days_to_resolve",
                                    "nights_open", "nights_accepted", "nights_not_evaluable", "reopened", "history")}
    assert got.keys() == expected.keys()
    for k in expected:
        assert got[k] == expected[k], k
    # the cases the schedule plants, spelled out
    by_kind = {(k[0], k[1]): v for k, v in expected.items() if k[0] != "coverage_gap"}
    bypass = by_kind[("egress_bypass", "no_zscaler_record")]
    assert (bypass["last_seen"], bypass["resolved_on"]) == ("2026-08-14", "2026-08-17")  # not on the outage nights
    assert by_kind[("silent_failure", "blocked")]["reopened"] == 1
    assert by_kind[("unmapped_identity", "dag_not_allowed")]["status"] == "open"


@pytest.mark.slow
def test_one_row_per_finding_per_analysis(quarter):
    with Store(quarter["db"], read_only=True) as store:
        con = store.con
        nights = con.execute("SELECT count(*) FROM nightly_analyses").fetchone()[0]
        # unattributed_egress is keyed by worker, login and host: the same finding_id every night
        per_night = con.execute("SELECT count(DISTINCT analysis_id), count(DISTINCT finding_id) FROM findings "
                                "WHERE kind = 'unattributed_egress'").fetchone()
        views = con.execute("SELECT count(*) FROM finding_lifecycle").fetchone()[0]
    assert nights == NIGHTS
    assert per_night == (NIGHTS - 2, 1)
    assert views == len(_expected_lifecycle(quarter["truth"]))


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def q3_pack(quarter, tmp_path_factory):
    """The quarter's period pack (no PDF), with a packs folder of three nightly packs of the period
    (their manifests are what the pack lists): (pack folder, packs folder)."""
    base = tmp_path_factory.mktemp("q3")
    packs = base / "packs"
    for d in ("2026-07-01", "2026-08-15", "2026-09-30"):
        (packs / d).mkdir(parents=True)
        (packs / d / "manifest.json").write_text(json.dumps({"format": "zsaudit-pack/1", "files": {}, "night": d}))
    out = base / "q3"
    result = CliRunner().invoke(main, ["report", "--period", "2026-Q3", "--out", str(out), "--packs", str(packs),
                                       "--no-pdf", "--generated-at", "2026-10-01T06:00:00Z", "--db",
                                       str(quarter["db"]), "--quiet"])
    assert result.exit_code == 0, result.output
    return out, packs


@pytest.mark.slow
def test_period_pack_numbers_match_the_truth(quarter, q3_pack):
    truth = quarter["truth"]
    out, packs = q3_pack
    assert CliRunner().invoke(main, ["verify", str(out), "--quiet"]).exit_code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    seed = manifest["sample"]["seed"]

    # truth per criterion: nights, outage nights not evaluable, finding-nights open and accepted
    rules = load_rules().rules
    outage = set(truth["outage"])
    crit_rows = _csv(out / "evidence" / "criterion_nights.csv")
    criteria = sorted({r["criterion"] for r in crit_rows})
    for c in criteria:
        rows = [r for r in crit_rows if r["criterion"] == c]
        assert len(rows) == 92  # July, August, September
        missing = [r["night"] for r in rows if r["analysis_id"] == ""]
        assert missing == ["2026-09-29", "2026-09-30"]  # 90 nights synthesized from 07-01
        not_eval = sorted(r["night"] for r in rows if r["result"] == "not evaluable" and r["analysis_id"])
        assert not_eval == sorted(outage)
        assert {r["reason"] for r in rows if r["night"] in outage} == {"coverage gap: zia_web, zpa"}
        dev = acc = 0
        for n in truth["per_night"]:
            found = [] if n["night"] in outage else n["findings"]
            dev += sum(1 for f in found if f["status"] == "open" and c in rules[f["kind"]].controls)
            acc += sum(1 for f in found if f["status"] == "accepted" and c in rules[f["kind"]].controls)
        if c in rules["coverage_gap"].controls:
            dev += 2 * len(outage)
        assert sum(int(r["deviations"]) for r in rows) == dev, c
        assert sum(int(r["accepted_risks"]) for r in rows) == acc, c
        # the period sample: 25 nights (a daily control, a quarter), re-drawn here from the seed
        sample = sorted(rows, key=lambda r: (hashlib.md5(f"{seed}:{c}:{r['night']}".encode()).hexdigest(),
                                             r["night"]))[:25]
        assert sorted(r["night"] for r in sample) == sorted(r["night"] for r in rows if int(r["sample_rank"]) <= 25)
        assert manifest["sample"]["sizes"][c] == {"frequency": "daily", "n": 25}

    # the exception that expires mid-period: valid up to its expiry, a deviation after it
    risks = {r["ticket"]: r for r in _csv(out / "evidence" / "accepted_risks.csv")}
    expires = truth["legacy_expires"]
    valid = [n["night"] for n in truth["per_night"] if n["night"] <= expires and n["night"] not in outage]
    after = [n["night"] for n in truth["per_night"] if n["night"] > expires and n["night"] not in outage]
    legacy = risks["SEC-1234"]
    assert (legacy["expires"], int(legacy["nights_valid"]), legacy["last_valid_night"]) == (expires, len(valid),
                                                                                            max(valid))
    assert (int(legacy["nights_after_expiry"]), legacy["first_night_after_expiry"]) == (len(after), min(after))

    # coverage: the two missing nights and the outage's coverage gaps
    gaps = _csv(out / "evidence" / "period_coverage_gaps.csv")
    assert [g["night"] for g in gaps if g["subtype"] == "no_analysis"] == ["2026-09-29", "2026-09-30"]
    assert sorted((g["night"], g["source"]) for g in gaps if g["subtype"] == "no_data") == sorted(
        (d, s) for d in outage for s in ("zia_web", "zpa"))

    # the lifecycle in the pack is the one `findings --history` lists
    pack_life = {r["subject_id"]: r["history"] for r in _csv(out / "evidence" / "finding_lifecycle.csv")}
    assert pack_life == {r["subject_id"]: r["history"] for r in _history_json(quarter["db"])}

    # the nightly manifests it was built from
    listed = {d["night"]: d["manifest_sha256"] for d in manifest["nightly_manifests"]["nights"]}
    assert listed == {d: hashlib.sha256((packs / d / "manifest.json").read_bytes()).hexdigest()
                      for d in ("2026-07-01", "2026-08-15", "2026-09-30")}
    html = (out / "index.html").read_text()
    assert "<svg" in html and "Period sample: 25 nights" in html
    assert listed["2026-08-15"] in html


# each table of three or more columns in the browser: its first column's share of the table's width
_FIRST_COLUMNS = """() => [...document.querySelectorAll('table')].filter(t => t.querySelectorAll('thead th').length >= 3)
  .map(t => ({head: [...t.querySelectorAll('thead th')].map(th => th.textContent.trim()).join(' | ').slice(0, 80),
              share: t.querySelector('thead th').getBoundingClientRect().width / t.getBoundingClientRect().width}))"""


def test_period_pack_tables_give_their_columns_room_in_the_browser(q3_pack):
    """The label column of the nightly pack's count tables (70 %) is not the first column of the
    period pack's week, exception, nightly-pack and file tables: in a browser their other columns
    (counts, approvers, sha256, descriptions) keep the room."""
    import browser

    with browser.browser() as b, browser.open_page(b, q3_pack[0] / "index.html", 1400) as (page, _):
        tables = page.evaluate(_FIRST_COLUMNS)
    heads = " / ".join(t["head"] for t in tables)
    assert "Week of" in heads and "Exception" in heads and "manifest.json sha256" in heads, heads
    assert [t for t in tables if t["share"] > 0.5] == [], tables


@pytest.mark.slow
def test_period_pack_pdf_and_same_bytes(quarter, tmp_path):
    args = ["report", "--period", "2026-07", "--generated-at", "2026-08-01T06:00:00Z", "--sample-seed", "11",
            "--db", str(quarter["db"]), "--quiet"]
    first, second = tmp_path / "a", tmp_path / "b"
    assert CliRunner().invoke(main, [*args, "--out", str(first)]).exit_code == 0
    assert CliRunner().invoke(main, [*args, "--out", str(second), "--no-pdf"]).exit_code == 0
    assert (first / "index.html").read_bytes() == (second / "index.html").read_bytes()
    assert (first / "evidence" / "criterion_nights.csv").read_bytes() == (
        second / "evidence" / "criterion_nights.csv").read_bytes()
    import pypdf

    text = "".join(page.extract_text() for page in pypdf.PdfReader(first / "audit-pack.pdf").pages)
    assert "SOC 2 Type II evidence: 2026-07" in text and "Finding lifecycle" in text
    # the lifecycle table's columns are wide enough for its ids and kinds (print.css <col> widths):
    # none broken across lines
    page = (first / "index.html").read_text(encoding="utf-8")
    subjects = set(re.findall(r'<span class="muted">([0-9a-f]{16})</span>', page))
    kinds = set(re.findall(r"<tr><td>([a-z_]+)<br>", page))
    assert subjects and "unmapped_identity" in kinds
    assert sorted(t for t in subjects | kinds if t not in text) == []


@pytest.mark.slow
def test_period_pack_refuses_bad_periods(quarter, tmp_path):
    def run(*args):
        return CliRunner().invoke(main, ["report", "--out", str(tmp_path / "x"), "--db", str(quarter["db"]), *args])

    assert run("--period", "2026-Q5").exit_code == 2
    assert run("--period", "2026-Q3", "--since", "2026-07-01").exit_code == 2
    empty = run("--period", "2025-Q1")
    assert empty.exit_code == 2 and "no nightly analysis" in empty.output


@pytest.mark.parametrize("text, since, until", [
    ("2026-Q3", "2026-07-01", "2026-10-01"),
    ("2026-q4", "2026-10-01", "2027-01-01"),
    ("2026-09", "2026-09-01", "2026-10-01"),
    ("2026-12", "2026-12-01", "2027-01-01"),
    ("2026", "2026-01-01", "2027-01-01"),
    ("2026-07-15..2026-10-15", "2026-07-15", "2026-10-15"),
])
def test_named_periods(text, since, until):
    from zsaudit.timeutil import parse_named_period

    start, end = parse_named_period(text)
    assert (start.date().isoformat(), end.date().isoformat()) == (since, until)
    assert start.tzinfo is not None


@pytest.mark.parametrize("text", ["2026-Q0", "2026-13", "26", "Q3", "2026-10-15..2026-07-15", "2026-07-01.."])
def test_named_periods_refused(text):
    from zsaudit.errors import BadUsage
    from zsaudit.timeutil import parse_named_period

    with pytest.raises(BadUsage):
        parse_named_period(text)


def test_sample_sizes_follow_control_frequency():
    from zsaudit.report.period import sample_size

    assert [sample_size("daily", d, d) for d in (10, 25, 90, 92, 181, 365)] == [10, 25, 25, 25, 30, 40]
    assert sample_size("weekly", 13, 92) == 5 and sample_size("weekly", 52, 365) == 15
    assert sample_size("monthly", 3, 92) == 2 and sample_size("annual", 1, 365) == 1


def test_findings_keep_one_row_per_analysis(store):
    """Schema 5: the same finding_id in two analyses is two rows; twice in one analysis is refused."""
    import duckdb

    row = "INSERT INTO findings (finding_id, kind, severity, analysis_id) VALUES ('f1', 'token_gap', 'high', ?)"
    store.con.execute(row, ["night1"])
    store.con.execute(row, ["night2"])
    with pytest.raises(duckdb.ConstraintException):
        store.con.execute(row, ["night2"])
    assert store.version() >= 5


def test_history_on_a_store_before_schema_5_says_how_to_upgrade(tmp_path):
    db = tmp_path / "old.duckdb"
    with Store(db) as s:
        s.con.execute("DELETE FROM schema_version WHERE version >= 5")  # as a store of schema 4 reads
    result = CliRunner().invoke(main, ["findings", "--history", "--db", str(db)])
    assert result.exit_code == 2 and "zsaudit analyze" in result.output
