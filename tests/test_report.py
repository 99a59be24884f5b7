"""The audit pack, rendered from a small analysed store (tests/report_data.py).

What a user would notice: the numbers in the PDF are the store's, hostile log content shows as
text and never as markup or spreadsheet formulas, the same inputs give the same bytes, and the
pack holds every file the manifest promises.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

import report_data
from report_data import GENERATED_AT, HOSTILE_LOGIN, HOSTILE_UA, HOSTILE_URL, SINCE, UNTIL
from zsaudit.cli import main
from zsaudit.errors import BadInput
from zsaudit.analyze.analysis import analyze
from zsaudit.report import render
from zsaudit.store import Store

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
EVIDENCE = ["attributed_requests", "findings", "task_attempts", "ingest_ledger", "rejects", "not_evaluable",
            "coverage_gaps", "recordid_jumps"]


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    store = Store(base / "zsaudit.duckdb")
    expected = report_data.build(store, base)
    yield store, expected, base
    store.close()


@pytest.fixture(scope="module")
def pack(analysed):
    store, expected, base = analysed
    result = render(store, base / "pack", generated_at=GENERATED_AT)
    return result


@pytest.fixture(scope="module")
def pack_pages(pack) -> list[str]:
    """The text of each page of the module pack's PDF (pypdf reads it once: seconds a read)."""
    return [page.extract_text() for page in PdfReader(str(pack.out_dir / "audit-pack.pdf")).pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def scalar(store, sql, params=None):
    return store.con.execute(sql, params or []).fetchall()[0][0]


# -- files -------------------------------------------------------------------------------------


def test_pack_holds_every_file(pack):
    out = pack.out_dir
    for name in ["index.html", "audit-pack.pdf", "findings.ocsf.json", "manifest.json"]:
        assert (out / name).is_file(), name
    for name in EVIDENCE:
        assert (out / "evidence" / f"{name}.csv").is_file()
        assert (out / "evidence" / f"{name}.parquet").is_file()
    assert pack.pdf == out / "audit-pack.pdf"
    assert pack.since == SINCE and pack.until == UNTIL
    assert (out / "audit-pack.pdf").stat().st_size < 10 * 1024 * 1024


def test_html_is_self_contained(pack):
    html = (pack.out_dir / "index.html").read_text(encoding="utf-8")
    assert "<svg" in html and "<style>" in html
    assert re.search(r"<script", html, re.I) is None
    assert re.search(r"<link\b", html, re.I) is None
    assert re.search(r"<img\b", html, re.I) is None
    # no attribute points anywhere: every href is an in-page anchor
    assert set(re.findall(r'href="(.)', html)) <= {"#"}
    assert re.search(r"\bsrc=", html) is None
    assert "@import" not in html and "url(" not in html


# -- hostile content -----------------------------------------------------------------------------


def test_hostile_strings_render_as_text_in_html(pack):
    html = (pack.out_dir / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>not markup</b>" not in html           # the identity map's comment: only in the attachment
    assert "<b>not markup</b>" in (pack.out_dir / "attachments" / "identity-map.toml").read_text(encoding="utf-8")
    # the hostile login appears (escaped) in the open findings
    assert "=cmd|&#39; /C calc&#39;!A0" in html


def test_hostile_strings_show_as_text_in_pdf(pack_pages):
    text = flat(" ".join(pack_pages)).replace(" ", "")
    assert "<script>alert(1)</script>" in text
    assert HOSTILE_LOGIN.replace(" ", "") in text


def test_paths_are_relative_to_named_source_roots(pack):
    """No directory of the machine that built the pack; a task log keeps its dag_id=/run_id= levels."""
    ledger = (pack.out_dir / "evidence" / "ingest_ledger.csv").read_text(encoding="utf-8")
    manifest = json.loads((pack.out_dir / "manifest.json").read_text())
    for text in (ledger, json.dumps(manifest)):
        assert "/var/log/zscaler" not in text and "/opt/airflow" not in text
    assert "zscaler/zia-web-2026-11-24.json," in ledger
    assert "airflow/dag_id=billing_daily/run_id=scheduled__2026-11-24T00:00:00+00:00/task_id=push/attempt=1.log," in ledger
    assert set(manifest["source_roots"]) == {"zscaler", "airflow"}


def test_csv_cells_cannot_start_a_formula(pack):
    dangerous = ("=", "+", "@", "\t", "\r")
    for name in EVIDENCE:
        with open(pack.out_dir / "evidence" / f"{name}.csv", newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    assert not cell.startswith(dangerous), (name, cell)
                    if cell.startswith("-"):
                        float(cell)  # a negative number (map_index -1), never text
    with open(pack.out_dir / "evidence" / "attributed_requests.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    hostile = [r for r in rows if HOSTILE_LOGIN in r["login"]]
    assert [r["login"] for r in hostile] == ["'" + HOSTILE_LOGIN]
    assert hostile[0]["user_agent"] == HOSTILE_UA           # not a formula: kept as is
    assert hostile[0]["url_or_application"] == HOSTILE_URL
    # Parquet keeps the exact value
    table = pq.read_table(pack.out_dir / "evidence" / "attributed_requests.parquet")
    assert HOSTILE_LOGIN in table.column("login").to_pylist()


# -- numbers ---------------------------------------------------------------------------------------


def test_pdf_numbers_match_the_store(pack, pack_pages, analysed):
    store, expected, _ = analysed
    requests = scalar(store, "SELECT (SELECT count(*) FROM zia_web) + (SELECT count(*) FROM zpa_user_activity)")
    attempts = scalar(store, "SELECT count(*) FROM task_attempts")
    attributed = scalar(store, "SELECT count(*) FROM attributions WHERE status = 'attributed'")
    worker = scalar(store, "SELECT count(*) FROM attributions")
    open_ = scalar(store, "SELECT count(*) FROM findings WHERE status = 'open'")
    accepted = scalar(store, "SELECT count(*) FROM findings WHERE status = 'accepted'")
    read, loaded, rejected = store.con.execute(
        "SELECT sum(lines_read), sum(rows_loaded), sum(rows_rejected) FROM ingest_ledger").fetchall()[0]
    files = scalar(store, "SELECT count(*) FROM ingest_ledger")
    assert (requests, attempts, open_, accepted) == (
        expected.zia_web + expected.zpa_activity, expected.attempts, expected.findings_open, expected.findings_accepted)

    text = flat(" ".join(pack_pages))
    assert f"{requests} requests (ZIA web and ZPA user activity) and {attempts} task attempts" in text
    assert f"Coverage: {attributed} of {worker} worker requests attributed ({100 * attributed / worker:.1f}%)" in text
    assert f"Deviations ({open_})" in text
    web = scalar(store, "SELECT count(*) FROM zia_web")
    https = scalar(store, "SELECT count(*) FROM zia_web WHERE url LIKE 'https://%'")
    assert f"Requests sent by Airflow workers (population) {worker}" in text          # CC6.1
    assert f"ZIA web requests in the period (population) {web} sent over HTTPS {https}" in text  # CC6.7
    assert f"Task attempts started in the period (population) {attempts}" in text     # CC6.6, CC7.2
    assert f"Accepted risks ({accepted})" in text
    assert f"All {files} files add up: {read} lines read = {loaded} loaded + {rejected} rejected" in text
    assert f"{expected.recordid_missing} record id(s) numbered by the feed but never received" in text
    # the 06:00-09:00 hole in the ZIA web feed
    assert "zia_web 2026-11-24 06:00:00Z 2026-11-24 09:00:00Z 3.0 ZIA web delivered no record" in text
    # accepted exception with approver, ticket and expiry; the expired one is called out
    assert "jane.doe@corp.example" in text and "SEC-1234" in text and "2027-03-31" in text
    assert "expired on 2026-10-31" in text
    # not-evaluable checks with their reasons
    assert "task log has no return code line" in text
    assert pack.counts == {"requests": requests, "attempts": attempts, "findings_open": open_,
                           "findings_accepted": accepted}


def test_pdf_has_cover_toc_page_numbers_and_footer(pack, pack_pages):
    reader = PdfReader(str(pack.out_dir / "audit-pack.pdf"))
    pages = [flat(p) for p in pack_pages]
    n = len(pages)
    assert "SOC 2 evidence pack" in pages[0]
    assert "Contents" in pages[1]
    assert re.search(r"Summary \.*\s*2\b", pages[1].replace(". ", ".")), pages[1][:400]
    assert "Summary" in pages[1]                      # the one-page summary follows the contents
    footer = "Period 2026-11-24 00:00:00Z to 2026-11-25 00:00:00Z (UTC) · generated 2026-11-25 06:00:00Z"
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in text
        assert footer in text
    def titles(items):
        for item in items:
            yield from titles(item) if isinstance(item, list) else [item.title]
    outline = list(titles(reader.outline))           # PDF bookmarks, one per heading
    assert "Summary" in outline and "Evidence files and attachments" in outline
    assert "CC6.1 Logical access security" in outline


def test_criteria_sections_with_population_and_seeded_sample(pack, analysed):
    store, expected, _ = analysed
    html = (pack.out_dir / "index.html").read_text(encoding="utf-8")
    for cc in ["CC6.1", "CC6.6", "CC6.7", "CC7.2", "CC7.3"]:
        assert f'id="cc-{cc.lower().replace(".", "-")}"' in html
    manifest = json.loads((pack.out_dir / "manifest.json").read_text())
    seed = manifest["sample"]["seed"]
    # the CC6.7 sample re-drawn from the evidence file with the printed rule gives the same rows
    con = store.con.cursor()
    rows = con.execute(
        "SELECT evidence_id FROM read_parquet(?) WHERE request_table = 'zia_web' "
        "ORDER BY md5(? || ':' || evidence_id), evidence_id LIMIT 10",
        [str(pack.out_dir / "evidence" / "attributed_requests.parquet"), str(seed)],
    ).fetchall()
    section = html.split('id="cc-cc6-7"')[1].split('class="criterion"')[0]
    shown = re.findall(r"<td><span class=\"tok\">([0-9a-f]{16}:\d+)</span>", section)
    assert shown == [r[0] for r in rows]
    assert f"seed {seed}" in section


def test_each_criterion_lists_its_own_open_findings(pack, analysed):
    """Under each criterion, its open findings in the store's order (most severe first, then time and
    id; top 10): one query for all the criteria (report/findings_for_controls) gives each its own."""
    from zsaudit.analyze.rules import SEVERITY_ORDER
    store, _, _ = analysed
    html = (pack.out_dir / "index.html").read_text(encoding="utf-8")
    shown = {}
    for section in html.split('<section class="criterion">')[1:]:
        control = re.search(r'<h3 id="[^"]+">(\S+) ', section).group(1)
        table = re.search(r'<table class="findings">.*?</table>', section.split("</section>")[0], re.S)
        shown[control] = re.findall(r'<tr>\n<td><span class="tok">([^<]+)</span>', table.group(0)) if table else []
    expected = {control: [r[0] for r in store.con.execute(
        "SELECT finding_id FROM findings WHERE list_contains(controls, ?) AND status <> 'accepted' "
        "ORDER BY list_position(?, severity) NULLS LAST, event_time NULLS FIRST, finding_id LIMIT 10",
        [control, list(SEVERITY_ORDER)]).fetchall()] for control in shown}
    assert shown == expected
    assert len({tuple(v) for v in shown.values() if v}) >= 3      # the criteria's lists differ


def test_evidence_row_counts_are_full_populations(pack, analysed):
    store, expected, _ = analysed
    def rows(name):
        return pq.read_metadata(pack.out_dir / "evidence" / f"{name}.parquet").num_rows
    assert rows("attributed_requests") == expected.zia_web + expected.zpa_activity
    assert rows("findings") == expected.findings_open + expected.findings_accepted
    assert rows("task_attempts") == expected.attempts
    assert rows("rejects") == expected.rejected
    assert rows("ingest_ledger") == scalar(store, "SELECT count(*) FROM ingest_ledger")
    statuses = pq.read_table(pack.out_dir / "evidence" / "attributed_requests.parquet").column("status").to_pylist()
    assert statuses.count("not_worker") == expected.not_worker
    assert statuses.count("attributed") == expected.attributed


def test_ocsf_detection_findings(pack, analysed):
    store, expected, _ = analysed
    events = json.loads((pack.out_dir / "findings.ocsf.json").read_text(encoding="utf-8"))
    assert len(events) == expected.findings_open + expected.findings_accepted
    for ev in events:
        assert ev["class_uid"] == 2004 and ev["category_uid"] == 2 and ev["type_uid"] == 200401
        assert ev["severity_id"] in (2, 3, 4, 5)
        assert ev["finding_info"]["uid"] and ev["finding_info"]["title"]
        assert isinstance(ev["time"], int)
    by_id = {ev["finding_info"]["uid"]: ev for ev in events}
    assert by_id["F-unmapped-legacy"]["status_id"] == 3           # accepted: suppressed
    assert by_id["F-unmapped-legacy"]["unmapped"]["exception"]["ticket"] == "SEC-1234"
    assert by_id["F-bypass-expired"]["status_id"] == 1 and by_id["F-bypass-expired"]["severity_id"] == 5
    assert by_id["F-unmapped-hostile"]["actor"]["user"]["name"] == HOSTILE_LOGIN


def test_manifest_lists_files_identity_map_queries_and_inputs(pack, analysed):
    store, expected, _ = analysed
    manifest = json.loads((pack.out_dir / "manifest.json").read_text())
    import hashlib
    for rel, entry in manifest["files"].items():
        assert hashlib.sha256((pack.out_dir / rel).read_bytes()).hexdigest() == entry["sha256"]
    assert "manifest.json" not in manifest["files"]
    assert set(manifest["files"]) >= {"index.html", "audit-pack.pdf", "findings.ocsf.json",
                                      "evidence/findings.csv", "evidence/findings.parquet"}
    assert manifest["identity_map"]["sha256"] == hashlib.sha256(expected.identity_map.read_bytes()).hexdigest()
    assert manifest["period"] == {"since": "2026-11-24T00:00:00Z", "until": "2026-11-25T00:00:00Z"}
    assert manifest["generated_at"] == "2026-11-25T06:00:00Z"
    assert manifest["tool"]["name"] == "zsaudit"
    for name in ["report/sources", "report/evidence_findings", "report/cc6_1_sample"]:
        from zsaudit import queries
        assert manifest["queries"][name] == hashlib.sha256(queries.load(name).encode()).hexdigest()
    ledger = {r[0] for r in store.con.execute("SELECT sha256 FROM ingest_ledger").fetchall()}
    assert {i["sha256"] for i in manifest["inputs"]} == ledger
    assert hashlib.sha256((pack.out_dir / "manifest.json").read_bytes()).hexdigest() == pack.manifest_sha256


# -- determinism ----------------------------------------------------------------------------------


def test_same_inputs_give_identical_bytes(analysed, pack, tmp_path):
    store, _, _ = analysed
    a = pack   # the module's render (PDF included, default period); a second render of the same inputs:
    b = render(store, tmp_path / "b", since=SINCE, until=UNTIL, generated_at="2026-11-25T06:00:00Z", pdf=True)
    files = sorted(a.files)
    assert files == sorted(b.files)
    differing = [f for f in files if (a.out_dir / f).read_bytes() != (b.out_dir / f).read_bytes()]
    assert differing == []
    assert (a.out_dir / "manifest.json").read_bytes() == (b.out_dir / "manifest.json").read_bytes()
    assert a.manifest_sha256 == b.manifest_sha256


def test_a_small_store_renders_without_optimizers_and_the_same_pack_with_them(analysed, tmp_path, monkeypatch):
    """A small store's pack is planned without DuckDB's optimizers (queries.small_store_settings),
    the store's connection gets them back after it, and a store above the bound (optimized plans)
    gets the same pack, byte for byte."""
    from zsaudit import queries, report
    store, _, _ = analysed
    seen = []
    real = report._render

    def spy(store_, con, *args, **kwargs):
        seen.append(set(queries.setting(con, "disabled_optimizers").split(",")))
        return real(store_, con, *args, **kwargs)

    monkeypatch.setattr(report, "_render", spy)
    off = set(queries.small_store_settings(store.con)["disabled_optimizers"].split(","))
    assert "join_order" in off and "filter_pushdown" not in off
    small = render(store, tmp_path / "small", generated_at=GENERATED_AT, pdf=False)
    assert seen == [off] and queries.setting(store.con, "disabled_optimizers") == ""
    monkeypatch.setattr(queries, "SMALL_STORE_ROWS", 0)
    large = render(store, tmp_path / "large", generated_at=GENERATED_AT, pdf=False)
    assert seen[-1] == {""}
    assert small.files == large.files
    assert [f for f in small.files if (small.out_dir / f).read_bytes() != (large.out_dir / f).read_bytes()] == []


def test_a_nights_evidence_is_written_in_one_thread_and_as_the_sliced_writer_writes_it(analysed, tmp_path,
                                                                                          monkeypatch):
    """A population of one time slice is written without writer threads (evidence._write_one); cut
    into slices of one request hour each (the threaded writer of a large month), the CSV files have
    the same bytes and the Parquet files the same rows (a row group per slice)."""
    from zsaudit.report import evidence
    store, _, _ = analysed

    class NoThreads:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a one-slice population started writer threads")

    with monkeypatch.context() as m:
        m.setattr(evidence, "ThreadPoolExecutor", NoThreads)
        one = render(store, tmp_path / "one", generated_at=GENERATED_AT, pdf=False)
    with monkeypatch.context() as m:     # a large slice: its Parquet file written on a thread
        m.setattr(evidence, "BATCH_ROWS", 2)
        large = render(store, tmp_path / "large", generated_at=GENERATED_AT, pdf=False)
    monkeypatch.setattr(evidence, "SLICE_ROWS", 1)
    real, slices = evidence.time_slices, []
    monkeypatch.setattr(evidence, "time_slices", lambda run: slices.append(real(run)) or slices[-1])
    sliced = render(store, tmp_path / "sliced", generated_at=GENERATED_AT, pdf=False)
    assert len(slices[0]) > 3
    names = [f for f in one.files if f.startswith("evidence/")]
    assert len(names) == 2 * len(EVIDENCE)
    for other in (large, sliced):
        assert [f for f in names if f.endswith(".csv")
                and (one.out_dir / f).read_bytes() != (other.out_dir / f).read_bytes()] == []
        assert [f for f in names if f.endswith(".parquet")
                and not pq.read_table(one.out_dir / f).equals(pq.read_table(other.out_dir / f))] == []


def test_evidence_writer_does_not_import_pandas(tmp_path):
    """pa.array() and pa.scalar() import pandas when it is installed (~0.5 CPU-s a `zsaudit report`
    process); the evidence writer builds its Arrow values without them. A stand-in pandas first on
    the path says whether anything tried to import it (so this runs where pandas is not installed:
    `make test`'s venv has none)."""
    fake = tmp_path / "fake" / "pandas"
    fake.mkdir(parents=True)
    marker = tmp_path / "pandas-imported"
    (fake / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                      "raise ImportError('the test stand-in for pandas')\n")
    code = ("import duckdb\n"
            "from zsaudit.report import evidence\n"
            "t = duckdb.connect().execute(\"SELECT '=1+1' AS a, 'ok' AS b, NULL::VARCHAR AS c\").to_arrow_table()\n"
            "assert evidence.neutralize(t).to_pylist() == [{'a': \"'=1+1\", 'b': 'ok', 'c': None}]\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), *sys.path])}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    assert not marker.exists(), "the evidence writer imported pandas"


def test_a_render_reads_the_period_once_and_lists_the_queries_of_its_empty_sections(analysed, pack):
    """One Runner a render (the period's macros made once); the module store's sections that an
    empty night skips ran and show the store's rows (test_pdf_numbers_match_the_store)."""
    from zsaudit.report import context
    store, _, _ = analysed
    ran = {"report/findings_accepted", "report/field_drift", "report/rejects_by_reason", "report/recordid_jumps_top",
           "report/coverage_gaps_top", "report/findings_for_controls", "report/findings_open",
           "report/findings_per_control", "report/chart_findings_per_day"}
    assert ran <= set(pack.query_seconds)
    opened = []
    real = context.Runner.__init__

    def spy(self, *args, **kwargs):
        opened.append(1)
        real(self, *args, **kwargs)

    context.Runner.__init__ = spy
    try:
        render(store, store.path.parent / "once", generated_at=GENERATED_AT, pdf=False)
    finally:
        context.Runner.__init__ = real
    assert opened == [1]


def test_identity_info_reads_the_latest_analysis_of_the_period(tmp_path):
    """identity_info takes report/analysis_runs' rows (latest first), not a query of its own."""
    from zsaudit.report.context import identity_info
    path = tmp_path / "identity.toml"
    path.write_text(report_data.IDENTITY_TOML)
    import hashlib
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    runs = [{"identity_map_path": str(path), "identity_map_sha256": sha},
            {"identity_map_path": "/elsewhere.toml", "identity_map_sha256": "0" * 64}]
    info = identity_info(runs, None)
    assert (info["path"], info["sha256"], info["recorded_sha256"], info["note"]) == (str(path), sha, sha, None)
    changed = identity_info([{**runs[0], "identity_map_sha256": "1" * 64}], path)
    assert "changed since the analysis" in changed["note"]
    assert identity_info([], None)["note"] == "No analysis covers this period and no identity map was given."


def test_rerender_into_an_earlier_pack_replaces_it(analysed, pack, tmp_path):
    store, _, _ = analysed
    out = tmp_path / "pack"
    shutil.copytree(pack.out_dir, out)                  # an earlier pack with its PDF (the module's render)
    assert (out / "audit-pack.pdf").exists()
    second = render(store, out, generated_at="2026-11-26T00:00:00Z", pdf=False)
    assert not (out / "audit-pack.pdf").exists()        # --no-pdf: the old PDF does not linger
    assert "audit-pack.pdf" not in second.files


def test_refuses_a_directory_that_is_not_a_pack(analysed, tmp_path):
    store, _, _ = analysed
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    from zsaudit.errors import BadUsage
    with pytest.raises(BadUsage, match="thesis.docx"):
        render(store, out, pdf=False)
    assert (out / "thesis.docx").read_text() == "precious"


def test_top_n_bounds_the_lists(analysed, tmp_path):
    store, expected, _ = analysed
    result = render(store, tmp_path / "p", generated_at=GENERATED_AT, pdf=False, top_n=3)
    html = flat((result.out_dir / "index.html").read_text(encoding="utf-8"))
    assert f"Showing 3 of {expected.findings_open}; all of them are in <code>evidence/findings.csv</code>" in html


def test_empty_store_is_refused_until_analysed_then_reads_not_tested(tmp_path):
    identity = tmp_path / "identity.toml"
    identity.write_text(report_data.IDENTITY_TOML)
    with Store(tmp_path / "empty.duckdb") as store:
        with pytest.raises(BadInput, match="no analysis covers .* Run `zsaudit analyze --identity-map FILE"):
            render(store, tmp_path / "pack", since="2026-11-24", until="2026-11-25", pdf=False)
        analyze(store, identity, since="2026-11-24", until="2026-11-25")
        result = render(store, tmp_path / "pack", since="2026-11-24", until="2026-11-25",
                        generated_at=GENERATED_AT, pdf=False)
    html = (result.out_dir / "index.html").read_text(encoding="utf-8")
    assert "Not tested: no task attempts in the period (the population is empty)" in html
    # CC6.1, CC6.6, CC6.7 and CC7.2 have empty populations (summary table and sections); CC7.3
    # evaluated the two coverage gaps against the exceptions
    assert html.count('<span class="result warn">Not tested: ') == 8
    # nothing arrived: ZIA web and the Airflow task logs are each one coverage_gap over the period
    assert result.status["label"] == "Deviations found"
    assert "source missing for part of the period: airflow_tasklog, zia_web" in result.status["text"]
    assert result.counts["requests"] == 0
    # nothing was read: the completeness checks say they could not run, none of them is green
    assert "Not checked: no Zscaler web, firewall or DNS record of the period carries a recordid" in html
    assert "Not checked: no input file covers the period." in html
    assert "Not checked: no line of the period was read." in html
    for claim in ("No jumps", "Every file matched its declared feed template", "No line was rejected"):
        assert claim not in html, claim
    # sections an earlier query counted empty: listed among the pack's queries, not run
    skipped = {"report/findings_accepted", "report/field_drift",
               "report/rejects_by_reason", "report/recordid_jumps_top"}
    assert not skipped & set(result.query_seconds)
    assert skipped <= set(json.loads((result.out_dir / "manifest.json").read_text())["queries"])


# -- CLI -------------------------------------------------------------------------------------------


def test_cli_report_and_verify(analysed, tmp_path):
    store, _, base = analysed
    db = tmp_path / "copy.duckdb"
    store.con.execute("CHECKPOINT")
    shutil.copy(base / "zsaudit.duckdb", db)
    runner = CliRunner()
    out = tmp_path / "pack"
    res = runner.invoke(main, ["report", "--db", str(db), "--out", str(out), "--no-pdf",
                               "--since", "2026-11-24", "--until", "2026-11-25",
                               "--generated-at", "2026-11-25T06:00:00Z"])
    assert res.exit_code == 0, res.output
    assert "manifest sha256" in res.output and not (out / "audit-pack.pdf").exists()
    digest = res.output.strip().rsplit(" ", 1)[-1]
    res = runner.invoke(main, ["verify", str(out), "--manifest-sha256", digest])
    assert res.exit_code == 0, res.output
    assert "intact" in res.output
    bad = runner.invoke(main, ["report", "--db", str(db), "--out", str(tmp_path / "x"),
                               "--since", "2026-11-25", "--until", "2026-11-24"])
    assert bad.exit_code == 2 and "--until" in bad.output


# -- a page for people to look at -----------------------------------------------------------------


def test_first_page_rendered_to_png_for_humans(pack):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    ARTIFACTS.mkdir(exist_ok=True)
    prefix = ARTIFACTS / "audit-pack-page"
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "3", str(pack.out_dir / "audit-pack.pdf"),
                    str(prefix)], check=True)
    pngs = sorted(ARTIFACTS.glob("audit-pack-page-*.png"))
    assert pngs and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
