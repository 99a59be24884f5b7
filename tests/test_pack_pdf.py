"""audit-pack.pdf read back as an auditor reads it (pdftotext, and the PDF's own layout).

The demo's pack: at most 20 pages; every column header of every table of index.html and every
accepted risk's ticket, approver and expiry are in the PDF's text; no login, host or id is broken
across lines; no word runs past the right margin; the per-file ledger, the queries and the identity
map are embedded attachments; no path of the machine that built it appears anywhere in the pack.
"""

from __future__ import annotations

import csv
import gzip
import html.parser
import json
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader

from zsaudit.report import verify

MAX_PAGES = 20
A4_WIDTH_PT = 595.28
SIDE_MARGIN_PT = 14 / 25.4 * 72   # print.css: @page margin 14mm left and right


def pdftotext(pdf: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout


class _Cells(html.parser.HTMLParser):
    """Header cells of every table, and every token the pack marks as unbreakable."""

    def __init__(self):
        super().__init__()
        self.headers, self.tokens = [], []
        self._in = None
        self._buf = []

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag == "th" or (tag == "span" and "tok" in cls.split() and "long" not in cls.split()):
            self._in, self._buf = tag, []

    def handle_endtag(self, tag):
        if self._in == tag:
            text = re.sub(r"\s+", " ", "".join(self._buf)).strip()
            if text:
                (self.headers if tag == "th" else self.tokens).append(text)
            self._in = None

    def handle_data(self, data):
        if self._in:
            self._buf.append(data)


@pytest.fixture(scope="module")
def cells(demo_pack):
    p = _Cells()
    p.feed((demo_pack / "index.html").read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def text(demo_pack):
    return pdftotext(demo_pack / "audit-pack.pdf")


def test_demo_pdf_fits_in_twenty_pages(demo_pack):
    pages = len(PdfReader(str(demo_pack / "audit-pack.pdf")).pages)
    assert pages <= MAX_PAGES, f"{pages} pages"


def test_every_html_table_header_is_in_the_pdf(cells, text):
    flat = re.sub(r"\s+", " ", text)
    assert len(set(cells.headers)) >= 30
    missing = sorted({h for h in cells.headers if h not in flat})
    assert missing == [], f"table headers of index.html missing from the PDF: {missing}"


def test_every_accepted_risk_shows_ticket_approver_and_expiry(demo_pack, text):
    flat = re.sub(r"\s+", " ", text)
    with open(demo_pack / "evidence" / "findings.csv", newline="", encoding="utf-8") as fh:
        accepted = [r for r in csv.DictReader(fh) if r["status"] == "accepted"]
    assert accepted
    for r in accepted:
        for field in ("exception_ticket", "exception_approver", "exception_expires"):
            assert r[field] and r[field][:10] in flat, (field, r[field])
    assert "Accepted risks (1)" in flat and "SEC-1234" in flat


def test_no_login_host_or_id_is_broken(cells, text):
    """Each token the pack marks unbreakable (ids, logins, hosts, tickets) is whole on one line."""
    lines = text.splitlines()
    tokens = {t for t in cells.tokens if len(t) > 3 and t != "\u2014"}
    assert any("@" in t for t in tokens) and any(re.fullmatch(r"[0-9a-f]{16}:\d+", t) for t in tokens)
    broken = sorted(t for t in tokens if not any(t in line for line in lines))
    assert broken == [], f"tokens broken across lines in the PDF: {broken}"


def test_no_word_runs_past_the_margins(demo_pack):
    """From the PDF's own layout (pdftotext -bbox): every word box within the printable width."""
    bbox = pdftotext(demo_pack / "audit-pack.pdf", "-bbox")
    outside = []
    for page_no, page in enumerate(bbox.split("<page ")[1:], start=1):
        width = float(re.search(r'width="([\d.]+)"', page).group(1))
        for x_min, x_max, word in re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" '
                                              r'yMax="[\d.]+">([^<]*)</word>', page):
            if float(x_max) > width - SIDE_MARGIN_PT + 1 or float(x_min) < SIDE_MARGIN_PT - 1:
                outside.append((page_no, word, x_min, x_max))
    assert outside == [], f"words outside the printable width: {outside[:10]}"


def test_ledger_queries_and_identity_map_are_attachments(demo_pack, text):
    reader = PdfReader(str(demo_pack / "audit-pack.pdf"))
    embedded = {name: data[0] for name, data in reader.attachments.items()}
    assert set(embedded) == {"queries.sql", "identity-map.toml", "ingest_ledger.csv"}
    for name, rel in (("queries.sql", "attachments/queries.sql"),
                      ("identity-map.toml", "attachments/identity-map.toml"),
                      ("ingest_ledger.csv", "evidence/ingest_ledger.csv")):
        assert embedded[name] == (demo_pack / rel).read_bytes()
    manifest = json.loads((demo_pack / "manifest.json").read_text())
    flat = re.sub(r"\s+", " ", text)
    for rel in ("attachments/queries.sql", "attachments/identity-map.toml", "evidence/ingest_ledger.csv"):
        assert rel in flat and manifest["files"][rel]["sha256"] in flat.replace(" ", "")
    # the body no longer carries the SQL or the per-file rows
    assert "CREATE OR REPLACE TEMP TABLE" not in text and "attempt=1.log" not in text


def test_cover_carries_the_evidence_digest_the_manifest_records(demo_pack, tmp_path):
    manifest = json.loads((demo_pack / "manifest.json").read_text())
    digest = manifest["evidence_digest"]["sha256"]
    first_page = pdftotext(demo_pack / "audit-pack.pdf", "-f", "1", "-l", "1")
    assert digest in first_page.replace("\n", "")
    assert verify(demo_pack) == []
    copy = tmp_path / "pack"
    shutil.copytree(demo_pack, copy)
    (copy / "attachments" / "queries.sql").write_text("tampered")
    assert any("queries.sql" in p for p in verify(copy))


def _all_text_of(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".pdf":
        # every stream inflated: page text, embedded files, metadata
        parts = [data.decode("latin-1")]
        for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
            try:
                parts.append(zlib.decompress(m.group(1)).decode("latin-1"))
            except zlib.error:
                pass
        return "\n".join(parts) + pdftotext(path)
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return "\n".join(str(v) for col in table.columns for v in col.to_pylist())
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("latin-1")


def test_pack_names_no_path_of_the_building_machine(demo_pack):
    build_dir = str(demo_pack.parent.parent)   # the demo's own directory, under pytest's tmp
    offenders = [p.relative_to(demo_pack).as_posix() for p in sorted(demo_pack.rglob("*"))
                 if p.is_file() and build_dir in _all_text_of(p)]
    assert offenders == [], f"files naming {build_dir}: {offenders}"
    ledger = (demo_pack / "evidence" / "ingest_ledger.csv").read_text()
    assert "zscaler/zia_web.json" in ledger and "airflow/logs/dag_id=" in ledger


def test_each_criterion_names_its_owner_and_reviewer(demo_pack, text):
    """The demo's zsaudit.toml names them ([controls."CCx.y"]); each section prints a review block."""
    sections = re.sub(r"\s+", " ", text).split("What was tested.")[1:]
    owners = ["Alex Example", "Robin Example", "Robin Example", "Kim Example", "Kim Example"]
    assert len(sections) == len(owners)
    for section, owner in zip(sections, owners):
        review = section[section.index("Control owner"):][:200]
        assert owner in review and "Reviewed by Sam Example Head of Security Compliance" in review, review


def test_contents_page_leaders_are_few_text_runs(demo_pack):
    """WeasyPrint draws a leader as one text run per copy of its string: a leader of "." made
    ~1,600 runs on the contents page (~6 % of the PDF's render); ". " about half."""
    contents = PdfReader(str(demo_pack / "audit-pack.pdf")).pages[1]
    assert "Contents" in contents.extract_text()
    runs = len(re.findall(rb"\bTJ\b", contents.get_contents().get_data()))
    assert runs < 1000, runs


def test_completeness_checks_say_what_they_checked(demo_pack, text):
    """The demo's ZIA web records carry recordids: "no jumps" is said of them, with their number
    (a pack whose records carry none says the check could not run: test_report's empty store)."""
    store = duckdb.connect(str(demo_pack.parent.parent / "zsaudit.duckdb"), read_only=True)
    try:
        ids = store.execute("SELECT count(record_id) FROM zia_web").fetchone()[0]
    finally:
        store.close()
    assert ids > 0
    assert f"No jumps among the {ids:,} recordids of the period." in " ".join(text.split())
    assert "No line was rejected." in text and "Not checked" not in text
