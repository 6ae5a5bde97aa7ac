"""Browser tests: Debian's Chromium, driven by Playwright, against the app served on 127.0.0.1.

Never `playwright install`: the tests use the system `chromium` (CI installs it with apt) and
are skipped, saying why, when it is missing. Every request the page makes is checked: any
that would leave 127.0.0.1 is blocked and fails the test, and so does any console error.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the browser tests, saying why, when there is no chromium to drive."""
    if CHROMIUM:
        return
    skip = pytest.mark.skip(
        reason="chromium is not installed: apt-get install -y --no-install-recommends chromium"
    )
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(skip)


def launch(playwright):  # type: ignore[no-untyped-def]
    """Start Debian's Chromium headless with the flags that keep it quiet and offline."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the whole run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app: Flask, demo: dict[str, int]) -> Iterator[str]:
    """The app, with the demo catalog, served on a free port of 127.0.0.1 in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


class Watch:
    """What a browser context did that it must not: leave 127.0.0.1, log console errors."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        """Expect console errors containing `text` (a page visited for its 404 logs one)."""
        self.allowed.append(text)

    def guard(self, route) -> None:  # type: ignore[no-untyped-def]
        """Let requests to 127.0.0.1 through; block and record any other."""
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def watch(self, page) -> None:  # type: ignore[no-untyped-def]
        """Record the page's console errors and uncaught exceptions."""
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def check(self) -> None:
        """Fail when anything left 127.0.0.1 or the console logged an error."""
        assert not self.outside, f"requests left 127.0.0.1: {self.outside}"
        errors = [e for e in self.errors if not any(text in e for text in self.allowed)]
        assert not errors, f"console errors: {errors}"


@pytest.fixture
def watch() -> Watch:
    """What the test's browser page must not do (checked when the page closes)."""
    return Watch()


def _context(browser, live_server: str, watch: Watch, **options):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server, locale="ru-RU", **options)
    context.set_default_timeout(10_000)
    context.route("**/*", watch.guard)
    page = context.new_page()
    watch.watch(page)
    return context, page


@pytest.fixture
def page(browser, live_server: str, watch: Watch) -> Iterator[object]:
    """A desktop page with JavaScript; fails the test on console errors or outside requests."""
    context, page = _context(browser, live_server, watch, viewport=DESKTOP)
    yield page
    context.close()
    watch.check()


@pytest.fixture
def audit_page(browser, live_server: str, watch: Watch) -> Iterator[object]:
    """A desktop page in a context that bypasses the CSP, for axe only.

    axe is injected as an inline script, which the app's CSP rightly blocks; every other test
    runs under the real CSP (tests/browser/test_csp.py proves the pages violate nothing).
    """
    context, page = _context(browser, live_server, watch, viewport=DESKTOP, bypass_csp=True)
    yield page
    context.close()
    watch.check()


@pytest.fixture
def phone_page(browser, live_server: str, watch: Watch) -> Iterator[object]:
    """A 375 px wide phone page."""
    context, page = _context(
        browser, live_server, watch, viewport=PHONE, is_mobile=True, has_touch=True
    )
    yield page
    context.close()
    watch.check()


@pytest.fixture
def nojs_page(browser, live_server: str, watch: Watch) -> Iterator[object]:
    """A desktop page with JavaScript turned off."""
    context, page = _context(
        browser, live_server, watch, viewport=DESKTOP, java_script_enabled=False
    )
    yield page
    context.close()
    watch.check()
