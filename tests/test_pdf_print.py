"""The print stylesheet lays the PDF out without measuring long cells (WeasyPrint's min-content width
of an overflow-wrap: anywhere value is one line-break pass per character), and long values still
wrap inside their columns: a test sheet and a period pack's gap table, rendered with the real
templates and stylesheets, read back with pdftotext -bbox."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from zsaudit.report import html, pdf

LONG = "x" * 150   # one unbroken value, far wider than its column (cells show 160 characters)
PAGE = """{% import "_partials.html" as p with context %}<!DOCTYPE html><html><head><style>
{% include "style.css" %}
{% include "print.css" %}
</style></head><body>
{{ p.test_sheet(c) }}
<table class="facts gaps"><colgroup><col class="c-night"><col class="c-what"><col class="c-detail"></colgroup>
<thead><tr><th>Night</th><th>What</th><th>Detail</th></tr></thead>
<tbody><tr><td>2026-07-16</td><td>no_data</td><td class="small wrap">GAPSTART{{ long }}</td></tr></tbody></table>
<table class="attachments"><colgroup><col class="c-file"><col class="c-sha"><col class="c-what"></colgroup>
<thead><tr><th>Attachment</th><th>sha256</th><th>Content</th></tr></thead>
<tbody><tr><td>a.sql</td><td class="sha">SHASTART{{ long }}</td><td>queries</td></tr></tbody></table>
</body></html>"""


def _criterion() -> dict:
    row = {"evidence_id": "bfdebe6dfdbf7785:1063", "source": "zia_web.json:1063", "result": "pass",
           "observed": "attributed", "time": "2026-11-24 02:25:27Z", "login": "svc-etl@corp.example",
           "host": "LONGSTART" + LONG, "dag / task / try": "etl_hourly / extract / 1"}
    return {"sample": [row], "sample_columns": ["time", "login", "host", "dag / task / try"],
            "attribute": "Zscaler login", "expected": "login granted to the DAG"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The page's PDF and the number of line-break passes WeasyPrint spent on intrinsic widths."""
    from weasyprint.layout import preferred

    calls = {"n": 0}
    split = preferred.split_first_line

    def counted(*args, **kwargs):
        calls["n"] += 1
        return split(*args, **kwargs)

    source = html.env().from_string(PAGE).render(c=_criterion(), long=LONG, mode="pdf")
    path = tmp_path_factory.mktemp("print") / "page.pdf"
    preferred.split_first_line = counted
    try:
        pdf.write(source, path, created=datetime(2026, 11, 25, tzinfo=timezone.utc))
    finally:
        preferred.split_first_line = split
    return path, calls["n"]


def _words(path: Path) -> list[tuple[float, float, float, str]]:
    bbox = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    return [(float(x0), float(y0), float(x1), w) for x0, y0, x1, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', bbox)]


def test_long_values_are_not_measured_character_by_character(rendered):
    """With CSS grid records or auto-layout tables, each such value cost a pass per character."""
    _, passes = rendered
    assert passes < 100, f"{passes} line-break passes on intrinsic widths"


def test_long_values_wrap_inside_their_columns(rendered):
    """Each long value: all its characters on the page (nothing cut), on many lines, every piece
    between its column's header and the next column's."""
    path, _ = rendered
    words = _words(path)
    header = {w: (x0, y0) for x0, y0, _, w in words
              if w in ("Record", "Attribute", "Night", "Detail", "sha256", "Content")}
    for start, left, right, below in (("LONGSTART", "Record", "Attribute", "Night"),
                                      ("GAPSTART", "Detail", None, "sha256"),
                                      ("SHASTART", "sha256", "Content", None)):
        first = next(w for w in words if w[3].startswith(start))
        end = header[below][1] if below else float("inf")
        pieces = [first] + [w for w in words if set(w[3]) == {"x"} and first[1] < w[1] < end
                            and header[left][0] - 1 <= w[0]]
        assert "".join(p[3] for p in pieces) == start + LONG, start     # nothing cut
        assert len(pieces) >= 2, start                                   # wrapped
        assert all(header[left][0] - 1 <= p[0] for p in pieces), start
        if right:
            assert all(p[2] <= header[right][0] for p in pieces), (start, pieces[:3])


def test_record_labels_sit_beside_their_values(rendered):
    """Label column then value column, one line each, the label never broken."""
    path, _ = rendered
    words = _words(path)
    for label, value in (("time", "2026-11-24"), ("login", "svc-etl@corp.example"), ("host", "LONGSTART")):
        lx, ly, lx1, _ = next(w for w in words if w[3] == label)
        vx, vy, _, _ = next(w for w in words if w[3].startswith(value))
        assert abs(ly - vy) < 2 and lx1 < vx, (label, value)
    assert any(w[3] == "try" for w in words)   # "dag / task / try" whole on its line
    dag = [w for w in words if w[3] in ("dag", "try")]
    assert abs(dag[0][1] - dag[1][1]) < 2


def test_the_print_sheet_has_no_box_per_token_or_field():
    """In the PDF a record is a line per field (label, tab, value), a token plain text with word
    joiners and a result the class of its cell: no <span> per token, no dt/dd pair of inline
    blocks per field (each ~1,500 Python calls of WeasyPrint's layout). index.html keeps them."""
    c = _criterion()
    for mode, tokens, fields, spans in (("html", 3, 4, 5), ("pdf", 0, 0, 1)):   # (+ the long host's)
        source = html.env().from_string(PAGE).render(c=c, long=LONG, mode=mode)
        sheet = source[source.index('<table class="sheet">'):source.index('<table class="facts gaps">')]
        assert sheet.count('class="tok"') + sheet.count('class="tok small"') == tokens, mode
        assert (sheet.count("<dd>"), sheet.count("<span")) == (fields, spans), mode
    assert '<td class="res pass">pass</td>' in sheet and "<div>time\t\u20602026-11-24 02:25:27Z</div>" in sheet
    assert "<div>login\t\u2060svc\u2060-\u2060etl\u2060@\u2060corp\u2060.\u2060example</div>" in sheet


TOKENS = ["svc-etl@corp.example", "abcdef:1063", "zia_web.json:1063", "shard-1.warehouse.example",
          "SEC-1234", "Jane Doe"]


def test_tokens_stay_whole_and_searchable_without_spans(tmp_path):
    """A line may break after a hyphen or between "abcdef:" and "1063"; the word joiners keep each
    token whole in a column too narrow for it (where a span of white-space: nowrap did), and leave
    no trace in the PDF's text (an auditor searches and copies ids)."""
    cells = "".join(f"<tr><td>x {{{{ p.tok({t!r}) }}}} y</td></tr>" for t in TOKENS)
    page = ('{% import "_partials.html" as p with context %}<!DOCTYPE html><html><body>'
            '<table style="width: 1mm; font-size: 9pt; overflow-wrap: normal">'
            f'{cells}</table></body></html>')
    source = html.env().from_string(page).render(mode="pdf")
    assert "<span" not in source
    path = tmp_path / "tokens.pdf"
    pdf.write(source, path, created=datetime(2026, 11, 25, tzinfo=timezone.utc))
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    assert "\u2060" not in text
    assert [t for t in TOKENS if not any(t in line for line in text.splitlines())] == []


def test_nobreak_leaves_letters_digits_and_long_tokens_alone():
    assert html.nobreak("abc123") == "abc123"
    assert html.nobreak("a-b") == "a\u2060-\u2060b"
    assert html.nobreak("x" * 41) == "x" * 41           # hostile input: may wrap anywhere
    assert html.field("  two\n lines\t") == "two lines"  # one line of a pre-wrap record
