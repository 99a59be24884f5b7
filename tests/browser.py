"""Debian's Chromium, headless, driven by Playwright for Python (never `playwright install`).

`open_page(path, width)` loads a local HTML file at a window width and records every request the
page makes. Tests skip when Chromium is absent outside CI; under CI=true its absence is a failure
(.ci/run installs it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ZSAUDIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> str:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM}: Chromium is missing under CI (.ci/run installs Debian's chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the Python package playwright is missing (make .venv/.installed-stamp installs it)")
    return CHROMIUM


@contextlib.contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=require_chromium(), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def open_page(b, path: Path, width: int, height: int = 900):
    """The page at `width` px; yields (page, requests) where requests lists every URL fetched."""
    ctx = b.new_context(viewport={"width": width, "height": height}, java_script_enabled=True)
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        yield page, requests
    finally:
        ctx.close()
