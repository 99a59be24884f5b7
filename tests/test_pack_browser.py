"""index.html in a real headless browser (Debian's Chromium through Playwright), as an auditor opens it.

At 1024 and 1400 px no table is wider than the block that holds it (nothing cut off or scrolled
sideways), the page is no wider than the window, and the page runs no script and fetches nothing.
"""

from __future__ import annotations

import pytest

import browser

# what the page holds: every table, any script or handler, and each table wider than its container
_PROBE = """() => {
  const out = {tables: 0, overflowing: [], scripts: document.scripts.length, handlers: [], js_urls: 0,
               embeds: document.querySelectorAll('iframe, object, embed, frame, link[rel]').length,
               page_width: document.documentElement.scrollWidth, window_width: window.innerWidth};
  for (const t of document.querySelectorAll('table')) {
    out.tables++;
    const box = t.parentElement.getBoundingClientRect();
    const r = t.getBoundingClientRect();
    if (t.scrollWidth > t.parentElement.clientWidth + 1 || r.right > box.right + 1 || r.left < box.left - 1) {
      const head = [...t.querySelectorAll('th')].map(th => th.textContent.trim()).join(' | ');
      out.overflowing.push({head: head.slice(0, 120), width: t.scrollWidth, room: t.parentElement.clientWidth});
    }
  }
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (a.name.toLowerCase().startsWith('on')) out.handlers.push(el.tagName + ' ' + a.name);
      if (/^\\s*javascript:/i.test(a.value)) out.js_urls++;
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def chromium():
    with browser.browser() as b:
        yield b


@pytest.mark.parametrize("width", [1024, 1400])
def test_demo_pack_tables_fit_and_nothing_runs(demo_pack, chromium, width):
    index = demo_pack / "index.html"
    with browser.open_page(chromium, index, width) as (page, requests):
        seen = page.evaluate(_PROBE)
    assert seen["tables"] >= 10, seen
    assert seen["overflowing"] == [], f"tables wider than their container at {width} px: {seen['overflowing']}"
    assert seen["page_width"] <= seen["window_width"], f"the page scrolls sideways at {width} px: {seen}"
    assert seen["scripts"] == 0 and seen["handlers"] == [] and seen["js_urls"] == 0, seen
    assert seen["embeds"] == 0, seen
    assert requests == [index.resolve().as_uri()], f"the page fetched more than itself: {requests}"


def test_hostile_pack_runs_no_script_and_fetches_nothing(hostile_pack, chromium):
    """The small pack whose logs carry <script> and formula text: shown as text, nothing runs."""
    index = hostile_pack / "index.html"
    with browser.open_page(chromium, index, 1024) as (page, requests):
        seen = page.evaluate(_PROBE)
        body = page.inner_text("body")
    assert seen["scripts"] == 0 and seen["handlers"] == [] and seen["js_urls"] == 0, seen
    assert seen["overflowing"] == [], seen["overflowing"]
    assert requests == [index.resolve().as_uri()], requests
    assert "<script>alert(1)</script>" in body
