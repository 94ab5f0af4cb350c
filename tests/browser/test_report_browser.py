"""The HTML report in a real browser: Chromium driven by Playwright.

Chromium is the system's (``/usr/bin/chromium``, Debian package
``chromium``); Playwright's own browser downloads are never used.  Outside
CI the tests skip when Chromium or the ``playwright`` package is missing; in
CI (the ``CI`` environment variable is set) they fail instead, so that they
cannot silently stop running.

Every test saves a screenshot under ``tests/browser/artifacts/`` (git-ignored)
and prints its path.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from analyzer.cli import main
from tests.report.hostile import IMG, REASON_IMG, SCRIPT, SVG, write_hostile_pcap

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package 'playwright' is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A page with everything that must not happen recorded: dialogs, network, errors."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.errors: list[str] = []

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        self.page.on("dialog", on_dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def open(self, html: Path) -> Page:
        self.page.goto(html.as_uri())
        self.page.wait_for_load_state("load")
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    w = Watched(browser)
    try:
        yield w
    finally:
        w.close()


def report_html(capture: Path, target: Path) -> Path:
    out, err = io.StringIO(), io.StringIO()
    status = main(["report", str(capture), "-o", str(target)], out=out, err=err)
    assert status == 0, err.getvalue()
    return target


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def keep_page(html: Path) -> None:
    """A copy of the page next to its screenshot, to open by hand."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(html, ARTIFACTS / html.name)


def assert_offline(w: Watched, html: Path) -> None:
    """The page loaded nothing but itself (inline data: URIs aside)."""
    others = [u for u in w.requests if u != html.as_uri() and not u.startswith("data:")]
    assert others == [], f"the report tried to load {others}"
    assert w.errors == [], w.errors


def detail_text(page: Page, arrow: Any) -> str:
    """The text of the detail pane of the ladder that holds ``arrow``."""
    return str(arrow.evaluate("g => g.closest('.ladder').querySelector('.detail').innerText"))


def test_click_arrow_shows_the_whole_message(watched: Watched, tmp_path: Path) -> None:
    html = report_html(SAMPLES / "basic-call.pcap", tmp_path / "basic-call.html")
    keep_page(html)
    page = watched.open(html)
    ladders = page.locator("details.ladder-group")
    assert ladders.count() == 1
    arrows = page.locator("details.ladder-group g.arrow")
    assert arrows.count() == 7
    invite = arrows.first
    invite.click()
    text = detail_text(page, invite)
    assert "INVITE sip:bob@biloxi.com SIP/2.0" in text
    assert "Call-ID: a84b4c76e66710@pc33.atlanta.com" in text
    bye = arrows.nth(5)
    bye.click()
    assert "BYE sip:alice@pc33.atlanta.com SIP/2.0" in detail_text(page, bye)
    screenshot(page, "basic-call")
    assert_offline(watched, html)
    assert watched.dialogs == []


def test_finding_link_opens_its_arrow(watched: Watched, tmp_path: Path) -> None:
    html = report_html(SAMPLES / "welcome-notice.pcap", tmp_path / "welcome-notice.html")
    keep_page(html)
    page = watched.open(html)
    screenshot(page, "welcome-notice")
    # HDR-8: the REGISTER (frame 5) has no Max-Forwards; it is outside any dialog.
    link = page.locator("details.rule", has_text="HDR-8").locator("a.goto").first
    target = link.get_attribute("data-arrow")
    assert target
    link.click()
    arrow = page.locator(f"[id='{target}']")
    assert arrow.get_attribute("data-frame") == "5"
    text = detail_text(page, arrow)
    assert "REGISTER sip:example.com SIP/2.0" in text
    assert "Call-ID:88askjda9@pc34.example.com" in text  # no space, as published
    group = arrow.locator("xpath=ancestor::details[contains(@class, 'ladder-group')][1]")
    assert group.evaluate("d => d.open") is True
    screenshot(page, "welcome-notice-finding")
    assert_offline(watched, html)


def test_hostile_display_names_stay_text(watched: Watched, tmp_path: Path) -> None:
    html = report_html(write_hostile_pcap(tmp_path), tmp_path / "hostile.html")
    keep_page(html)
    page = watched.open(html)
    # Show every message in its detail pane: the payloads are in all of them.
    arrows = page.locator("g.arrow")
    for k in range(arrows.count()):
        arrows.nth(k).click()
    page.locator("details").evaluate_all("ds => ds.forEach(d => { d.open = true; })")
    page.wait_for_timeout(300)
    screenshot(page, "hostile")
    assert watched.dialogs == [], f"script ran: {watched.dialogs}"
    injected = page.evaluate(
        """() => ({
            scripts: Array.from(document.scripts)
                .filter(s => s.type !== 'application/json').length,
            imgs: document.images.length,
            handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length,
            bold: Array.from(document.querySelectorAll('b'))
                .filter(b => b.textContent.startsWith('x|')).length,
            svgOnload: Array.from(document.querySelectorAll('svg'))
                .filter(s => s.hasAttribute('onload')).length,
        })"""
    )
    # The page's own two scripts (ladders, report), no image, no handler attribute.
    assert injected["scripts"] == 2
    assert injected["imgs"] == 0
    assert injected["handlers"] == 0 and injected["svgOnload"] == 0
    assert injected["bold"] == 0
    calls = page.locator("#calls").inner_text()
    assert f'"{SCRIPT}" <sip:alice@example.com>' in calls
    assert f'"{IMG}" <sip:bob@example.com>' in calls
    assert "<b>x|`y`</b>@evil.example" in calls
    body = page.locator("body").inner_text()
    for payload in (SCRIPT, IMG, REASON_IMG, SVG):
        assert payload in body, payload
    assert_offline(watched, html)
