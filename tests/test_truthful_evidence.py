"""Issue #11, analysis and report side: a pack or a nightly summary never reads clean while nothing,
or the wrong thing, was checked. Each case goes through the CLI, as a user would meet it:

  * a report over a period never analysed is refused (exit 2) and names the missing step;
  * an identity map that can evaluate nothing is refused; one that leaves checks out warns, and the
    pack says so; a worker IP that is no IP is refused;
  * a night whose Zscaler feed never arrived gives coverage_gap (not an egress_bypass avalanche),
    its checks read "Not tested", and `zsaudit run` exits 1 under the `init` defaults;
  * a file that is mostly rejected is a coverage_gap of subtype rejects;
  * every criterion states tested / not evaluable / exceptions, and the pack has one overall status.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from zsaudit.cli import main
from zsaudit.synth import synthesize

IDENTITY_NO_WORKERS = """\
[[service_account]]
name = "svc-etl"
zscaler_logins = ["svc-etl@corp.example"]
dags = ["*"]
"""


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """One synthetic night (read-only input shared by the tests of this module)."""
    return synthesize(tmp_path_factory.mktemp("night"), requests=300, seed=11)


def cli(*args, ok=(0,)):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code in ok, result.output
    return result


def period(night) -> list[str]:
    return ["--since", night.since.isoformat(), "--until", night.until.isoformat()]


def ingest(db: Path, night, *, zscaler: bool = True) -> None:
    if zscaler:
        cli("ingest", "zscaler", night.out_dir / "zscaler", "--db", db, "-q")
    cli("ingest", "airflow", night.out_dir / "airflow" / "logs", night.out_dir / "airflow" / "task_instances.json",
        "--db", db, "-q")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, night) -> Path:
    """The night ingested through the CLI once a module (a closed store file); each test that starts
    from it works on its own copy (copy_of)."""
    db = tmp_path_factory.mktemp("ingested") / "z.duckdb"
    ingest(db, night)
    return db


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, night, ingested) -> dict:
    """A copy of `ingested` analysed over the night with its identity map and its pack rendered
    (--no-pdf) through the CLI, once a module: the store, the pack and what `report` printed. Its
    readers only read (`report` opens the store read-only)."""
    base = tmp_path_factory.mktemp("analysed")
    db = copy_of(ingested, base)
    cli("analyze", "--identity-map", night.identity_path, "--db", db, *period(night), "-q")
    result = cli("report", "--out", base / "pack", "--no-pdf", "--db", db, *period(night))
    return {"db": db, "pack": base / "pack", "report_output": result.output}


def copy_of(db: Path, tmp_path: Path) -> Path:
    return Path(shutil.copyfile(db, tmp_path / db.name))


def page_text(pack: Path) -> str:
    text = re.sub(r"<[^>]+>", " ", (pack / "index.html").read_text(encoding="utf-8"))
    return " ".join(html.unescape(text).split())


def findings(db: Path, *extra) -> list[dict]:
    return json.loads(cli("findings", "--db", db, "--format", "json", *extra).output)


# -- 1. not analysed is not clean ----------------------------------------------------------------
def test_report_over_a_period_never_analysed_exits_2_and_names_the_step(tmp_path, night, ingested):
    db = copy_of(ingested, tmp_path)
    result = cli("report", "--out", tmp_path / "pack", "--no-pdf", "--db", db, *period(night), ok=(2,))
    assert "no analysis covers" in result.output
    assert "zsaudit analyze --identity-map" in result.output
    assert not (tmp_path / "pack" / "index.html").exists()


def test_report_over_a_longer_period_than_the_analysis_is_refused_too(tmp_path, night, analysed):
    db = analysed["db"]                                   # analysed over the night, and its pack written
    assert (analysed["pack"] / "index.html").is_file()
    until = night.until.replace(day=night.until.day + 1).isoformat()
    result = cli("report", "--out", tmp_path / "pack", "--no-pdf", "--db", db,
                 "--since", night.since.isoformat(), "--until", until, ok=(2,))
    assert "no analysis covers " + night.until.strftime("%Y-%m-%dT%H:%M:%SZ") in result.output


# -- 2. an identity map must be able to evaluate something ----------------------------------------
@pytest.mark.parametrize("text", ["", "[policy]\ntoken_lifetime = \"15m\"\n"])
def test_identity_map_that_evaluates_nothing_is_refused(tmp_path, night, text, ingested):
    db = copy_of(ingested, tmp_path)
    imap = tmp_path / "empty.toml"
    imap.write_text(text)
    result = cli("analyze", "--identity-map", imap, "--db", db, *period(night), ok=(2,))
    assert f"{imap}: no [[service_account]] and no [[worker]]" in result.output


def test_worker_ip_that_is_no_ip_is_refused_naming_the_entry(tmp_path, night):
    imap = tmp_path / "bad-ip.toml"
    imap.write_text('[[worker]]\nhostname = "w1"\nips = ["10.0.0.11", "10.0.0.300"]\n')
    result = cli("analyze", "--identity-map", imap, "--db", tmp_path / "z.duckdb", ok=(2,))
    assert "[[worker]] #1 (w1): key 'ips' item 2: '10.0.0.300' is not an IP address" in result.output


def test_map_without_workers_warns_and_the_pack_says_cc6_6_was_not_tested(tmp_path, night, ingested):
    db = copy_of(ingested, tmp_path)
    imap = tmp_path / "no-workers.toml"
    imap.write_text(IDENTITY_NO_WORKERS)
    result = cli("analyze", "--identity-map", imap, "--db", db, *period(night))
    assert "warning: " in result.output and "no [[worker]]" in result.output
    assert "egress_bypass (CC6.6) cannot be checked" in result.output
    cli("report", "--out", tmp_path / "pack", "--no-pdf", "--db", db, *period(night), "-q")
    text = page_text(tmp_path / "pack")
    assert "The identity map leaves checks out" in text and "no [[worker]]" in text
    cc66 = text[text.index("CC6.6 Boundary protection What was tested"):]
    assert re.search(r"Result\. Not tested: none of the \d+ task attempts could be evaluated", cc66)
    assert "Incomplete evidence" in text or "Deviations found" in text
    assert "not tested: CC6.6" in text                                    # in the overall status


# -- 3. coverage gaps are findings ----------------------------------------------------------------
def setup_config(tmp_path: Path, night) -> Path:
    """`zsaudit init`, pointed at the night: every other setting as `init` writes it."""
    cli("init", tmp_path)
    path = tmp_path / "zsaudit.toml"
    text = path.read_text()
    assert 'fail_on = "high"' in text
    text = text.replace('identity_map = "identity.toml"', f'identity_map = "{night.identity_path}"')
    text = text.replace('paths = ["/var/log/zscaler"]', f'paths = ["{tmp_path / "zscaler"}"]')
    text = text.replace('paths = ["/opt/airflow/logs", "/opt/airflow/airflow.db"]',
                        f'paths = ["{night.out_dir / "airflow" / "logs"}", '
                        f'"{night.out_dir / "airflow" / "task_instances.json"}"]')
    text = text.replace("pdf = true ", "pdf = false")
    path.write_text(text)
    return path


def test_a_night_without_its_zscaler_feed_is_one_coverage_gap_and_fails_the_run(tmp_path, night):
    (tmp_path / "zscaler").mkdir()            # the feed's folder, emptied
    config = setup_config(tmp_path, night)
    result = cli("run", "--config", config, *period(night), ok=(1,))
    found = findings(tmp_path / "zsaudit.duckdb")
    kinds = {f["kind"] for f in found}
    assert "egress_bypass" not in kinds and "unattributed_egress" not in kinds
    gaps = [f for f in found if f["kind"] == "coverage_gap"]
    assert len(gaps) == 1 and gaps[0]["severity"] == "high" and gaps[0]["subtype"] == "no_data"
    assert gaps[0]["detail"].startswith("ZIA web delivered no record from ")
    # every kind left is about something the Airflow side itself shows, not about the missing feed
    assert kinds <= {"coverage_gap", "unmapped_identity"}
    assert "status: Deviations found" in result.output
    assert "source missing for part of the period: zia_web" in result.output
    assert "not tested: " in result.output and "CC6.7" in result.output
    assert "FAIL: " in result.output
    text = page_text(next((tmp_path / "packs").iterdir()))
    assert "Not tested: no ZIA web requests in the period" in text
    assert "no Zscaler coverage during the attempt" in text            # egress: not evaluable, with why


@pytest.fixture(scope="module")
def with_feed(tmp_path_factory, night) -> Path:
    """The store of `zsaudit run` over the night with its feed (read by the tests, never written)."""
    folder = tmp_path_factory.mktemp("with_feed")
    shutil.copytree(night.out_dir / "zscaler", folder / "zscaler")
    cli("run", "--config", setup_config(folder, night), *period(night), "--fail-on", "none")
    return folder / "zsaudit.duckdb"


def test_the_same_night_with_its_feed_has_no_coverage_gap(with_feed):
    assert findings(with_feed, "--kind", "coverage_gap") == []


def office_traffic(night, feed: Path, hours: tuple[int, ...]) -> None:
    """Requests from a user's laptop (no worker, no service account) at these hours of the night's
    day, appended to the ZIA web file: what a real NSS web feed carries all day long."""
    web = next(feed.glob("zia_web*"))
    first = json.loads(web.read_text().splitlines()[0])
    extra = []
    for i, hour in enumerate(hours):
        event = dict(first["event"], login="alice@corp.example", cip="10.20.30.40", cintip="10.20.30.40",
                     devicehostname="laptop-alice", recordid=str(990000000 + i),
                     time=(night.since + timedelta(hours=hour)).strftime("%a %b %d %H:%M:%S %Y"))
        extra.append(json.dumps({**first, "event": event}))
    web.write_text(web.read_text().rstrip("\n") + "\n" + "\n".join(extra) + "\n")


def test_office_traffic_while_the_fleet_is_idle_is_no_coverage_gap(tmp_path, night, with_feed):
    """The fleet runs from about 01:00 to 04:00; the company's own browsing goes on through the day.
    Nothing the audit needs is missing: no source is silent while another delivers (two requests
    hours apart witness nothing in between), and the Airflow side is not held to Zscaler's day."""
    feed = tmp_path / "zscaler"
    shutil.copytree(night.out_dir / "zscaler", feed)
    office_traffic(night, feed, (12, 20))
    config = setup_config(tmp_path, night)
    cli("run", "--config", config, *period(night), "--fail-on", "none")
    db = tmp_path / "zsaudit.duckdb"
    assert findings(db, "--kind", "coverage_gap") == []
    planted = sorted((f["kind"], f["subtype"]) for f in findings(with_feed))
    assert len(planted) > 5 and sorted((f["kind"], f["subtype"]) for f in findings(db)) == planted


def test_task_logs_missing_while_the_metadata_shows_tasks_running_is_a_coverage_gap(tmp_path, night):
    """The REST export says attempts ran for hours after the last task log: the logs are missing
    (not an idle fleet), so the task logs' silence is a gap, over the stretch the metadata covers."""
    db = tmp_path / "z.duckdb"
    cli("ingest", "zscaler", night.out_dir / "zscaler", "--db", db, "-q")
    export = json.loads((night.out_dir / "airflow" / "task_instances.json").read_text())
    items = export["task_instances"]
    late = night.since + timedelta(hours=6)
    shifted = [dict(t, id=str(uuid.UUID(int=i + 1)), dag_run_id=f"late__{i}", run_id=f"late__{i}",
                    start_date=(late + timedelta(minutes=10 * i)).isoformat(),
                    end_date=(late + timedelta(minutes=10 * i + 9)).isoformat()) for i, t in enumerate(items[:13])]
    meta = tmp_path / "task_instances.json"
    meta.write_text(json.dumps({"task_instances": items + shifted, "total_entries": len(items) + len(shifted)}))
    cli("ingest", "airflow", night.out_dir / "airflow" / "logs", meta, "--db", db, "-q")
    cli("analyze", "--identity-map", night.identity_path, "--db", db, *period(night), "-q")
    gaps = {g["detail"].split(" delivered")[0]: g for g in findings(db, "--kind", "coverage_gap")}
    # the metadata witnesses the task logs' silence, not its own; Zscaler's is witnessed too
    assert "Airflow task logs" in gaps and "Airflow metadata" not in gaps
    assert f"from {late.strftime('%Y-%m-%dT%H:%M:%SZ')} to {(late + timedelta(minutes=129)).strftime('%Y-%m-%dT%H:%M:%SZ')}" in gaps["Airflow task logs"]["detail"]


def test_gap_threshold_is_an_option_and_a_config_key(tmp_path, night):
    (tmp_path / "zscaler").mkdir()
    config = setup_config(tmp_path, night)
    cli("run", "--config", config, *period(night), "--gap-threshold", "30d", "--fail-on", "none")
    assert findings(tmp_path / "zsaudit.duckdb", "--kind", "coverage_gap") == []
    config.write_text(config.read_text().replace('gap_threshold = "1h"', 'gap_threshold = "soon"'))
    result = cli("run", "--config", config, *period(night), ok=(2,))
    assert "analyze.gap_threshold" in result.output


def test_a_file_mostly_rejected_is_a_coverage_gap_of_subtype_rejects(tmp_path, night):
    db = tmp_path / "z.duckdb"
    feed = tmp_path / "zscaler"
    shutil.copytree(night.out_dir / "zscaler", feed)
    web = next(feed.glob("zia_web*"))
    lines = web.read_text().splitlines()
    web.write_text("\n".join(lines + ["{ not json at all"] * (len(lines) // 10)) + "\n")
    cli("ingest", "zscaler", feed, "--db", db, "-q", ok=(0, 2))   # exit 2 once ingest enforces the rate
    ingest(db, night, zscaler=False)
    cli("analyze", "--identity-map", night.identity_path, "--db", db, *period(night), "-q")
    gaps = findings(db, "--kind", "coverage_gap")
    assert [g["subtype"] for g in gaps] == ["rejects"]
    assert web.name in gaps[0]["detail"] and "above max_reject_rate 1.0%" in gaps[0]["detail"]
    cli("analyze", "--identity-map", night.identity_path, "--db", db, *period(night), "-q",
        "--max-reject-rate", "0.5")
    assert findings(db, "--kind", "coverage_gap") == []


# -- the three counts and the overall status ---------------------------------------------------
def test_every_criterion_states_tested_not_evaluable_and_exceptions(analysed):
    assert "status: Deviations found" in analysed["report_output"]
    text = page_text(analysed["pack"])
    lines = re.findall(r"Population\. ([\d,]+) ([a-zA-Z ]+): ([\d,]+) tested, ([\d,]+) not evaluable, "
                       r"([\d,]+) deviations? \(open findings\)", text)
    assert len(lines) == 5
    for total, _, tested, ne, _ in lines:
        assert int(total.replace(",", "")) == int(tested.replace(",", "")) + int(ne.replace(",", ""))
    cc66 = next(line for line in lines if line[1] == "task attempts" and int(line[3].replace(",", "")))
    # CC6.6's result line counts its attempts that could not be evaluated
    assert f"among {cc66[2]} tested; {cc66[3]} not evaluable" in text


# -- one findings format --------------------------------------------------------------------------
def test_findings_cli_and_the_pack_share_one_format(analysed):
    db = analysed["db"]
    pack_rows = list(csv.DictReader(open(analysed["pack"] / "evidence" / "findings.csv", newline="", encoding="utf-8")))
    cli_rows = list(csv.DictReader(io.StringIO(cli("findings", "--db", db, "--format", "csv").output)))
    as_json = findings(db)
    assert list(cli_rows[0]) == list(pack_rows[0]) == list(as_json[0])           # same columns, same order
    by_id = {r["finding_id"]: r for r in pack_rows}
    assert {r["finding_id"] for r in cli_rows} == set(by_id)
    for row in cli_rows:
        assert row == by_id[row["finding_id"]]                                   # same cells, same formats
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["event_time"])
    multi = next(r for r in cli_rows if " " in r["controls"])
    assert re.fullmatch(r"(CC\d\.\d )+CC\d\.\d", multi["controls"])           # one control separator: a space
    assert any(r["map_index"] == "-1" for r in cli_rows)                        # a number, not "'-1"
    j = next(f for f in as_json if f["finding_id"] == multi["finding_id"])
    assert j["controls"] == multi["controls"].split(" ") and j["event_time"] == multi["event_time"]


def test_every_control_a_rule_names_has_its_section_in_the_pack():
    from zsaudit.analyze.rules import load_rules
    from zsaudit.report.context import load_criteria

    sections = {c["id"] for c in load_criteria()}
    tagged = {c for rule in load_rules().rules.values() for c in rule.controls}
    assert tagged <= sections, sorted(tagged - sections)


# -- Airflow's own token is not Zscaler's ---------------------------------------------------------
@pytest.mark.parametrize("url,is_token_gap", [
    ("airflow-api.corp.example/execution/task-instances/0198-35de/heartbeat", False),  # Airflow's execution-API JWT
    ("files.warehouse.example/v1/items/1", True),                                      # a real refusal
])
def test_a_refusal_by_airflows_execution_api_is_not_a_zscaler_token_gap(tmp_path, night, url, is_token_gap):
    db = tmp_path / "z.duckdb"
    feed = tmp_path / "zscaler"
    shutil.copytree(night.out_dir / "zscaler", feed)
    web = next(feed.glob("zia_web*"))
    lines = web.read_text().splitlines()
    base = next(json.loads(line) for line in lines
                if '"respcode":"200"' in line.replace(" ", "") and "svc-" in line and "airflow-worker" in line)
    event = base["event"]
    event.update(eurl=url, ehost=url.split("/")[0], respcode="401", action="Allowed", reason="Allowed",
                 recordid=str(int(event["recordid"]) + 10_000_000))
    web.write_text("\n".join(lines + [json.dumps(base)]) + "\n")
    cli("ingest", "zscaler", feed, "--db", db, "-q")
    ingest(db, night, zscaler=False)
    cli("analyze", "--identity-map", night.identity_path, "--db", db, *period(night), "-q")
    rid_suffix = f":{len(lines) + 1}"
    hit = [f for f in findings(db, "--kind", "token_gap") if any(e.endswith(rid_suffix) for e in f["evidence_ids"])]
    assert bool(hit) is is_token_gap
