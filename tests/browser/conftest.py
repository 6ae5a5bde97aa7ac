"""Browser tests: Debian's Chromium, driven by Playwright, against the app served on 127.0.0.1.

Never `playwright install`: the tests use the system `chromium` (CI installs it with apt) and
are skipped, saying why, when it is missing.

Every page a fixture opens is watched (`Watch`), so a test gets these checks without asking: a
request that would leave 127.0.0.1 is blocked and fails the test, and so does any console error,
uncaught exception or Content-Security-Policy violation in any page of its browser context.
They are checked when the page closes, after the last interaction has settled; a test may call
`watch.check()` sooner. Each violation says after which page load or htmx request it happened.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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

# Runs in every document of a watched context before the page's own scripts; Playwright injects
# it and the binding it calls outside the page's CSP. The console names a violation only in
# words; this event also says which directive, element and script, and after what. Listening on
# the window in the capture phase sees every violation: those fired at an element of the page
# and those fired at the document (for an element not in the page). Pages with JavaScript off
# run no script at all: for them the console message is the only record.
RECORD_VIOLATIONS = """
(() => {
  const readable = (url) => { try { return decodeURI(url); } catch { return url; } };
  const here = () => readable(location.pathname + location.search);
  let after = "loading " + here();
  document.addEventListener("htmx:beforeRequest", (event) => {
    const { requestConfig, pathInfo } = event.detail;
    after = `htmx ${requestConfig.verb.toUpperCase()} ${readable(pathInfo.finalRequestPath)}`;
  }, true);
  document.addEventListener("htmx:historyCacheMiss", (event) => {
    after = `htmx history restore ${readable(event.detail.path)}`;
  }, true);
  window.addEventListener("securitypolicyviolation", (event) => {
    const target = event.target;
    window.__recordCspViolation({
      directive: event.effectiveDirective,
      blocked: event.blockedURI,
      element: target.id ? `${target.localName}#${target.id}` : target.nodeName.toLowerCase(),
      source: `${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
      page: here(),
      after,
    });
  }, true);
})();
"""

# Waits while htmx has a request, swap or settle under way: its settle step runs 20 ms after the
# swap (htmx.config.defaultSettleDelay) and can still set attributes. Returns at once without htmx.
SETTLE = """
async () => {
  const busy = () => document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling");
  for (let tries = 0; busy() && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
"""


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
    """What the pages of watched browser contexts did that they must not."""

    def __init__(self) -> None:
        self.contexts: list[object] = []
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.violations: list[dict[str, str]] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        """Expect console errors containing `text` (a page visited for its 404 logs one)."""
        self.allowed.append(text)

    def attach(self, context) -> None:  # type: ignore[no-untyped-def]
        """Watch every page `context` opens from now on, popups included."""
        self.contexts.append(context)
        context.route("**/*", self.guard)
        context.expose_binding("__recordCspViolation", lambda _source, v: self.violations.append(v))
        context.add_init_script(RECORD_VIOLATIONS)
        context.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        context.on("weberror", lambda error: self.errors.append(str(error.error)))

    def guard(self, route) -> None:  # type: ignore[no-untyped-def]
        """Let requests to 127.0.0.1 through; block and record any other."""
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def settle(self) -> None:
        """Let the last interaction finish in every open page, and its reports arrive."""
        for context in self.contexts:
            for page in context.pages:
                if not page.is_closed():
                    page.wait_for_load_state()
                    # The answer comes after every report the page sent before it.
                    page.evaluate(SETTLE)

    def check(self) -> None:
        """Fail on requests that left 127.0.0.1, console errors or CSP violations so far."""
        self.settle()
        assert not self.outside, f"requests left 127.0.0.1: {self.outside}"
        violations = [
            f"{v['directive']} blocked {v['blocked']} on {v['element']} at {v['page']} "
            f"after {v['after']} ({v['source']})"
            for v in self.violations
        ]
        assert not violations, "CSP violations:\n" + "\n".join(violations)
        errors = [e for e in self.errors if not any(text in e for text in self.allowed)]
        assert not errors, f"console errors: {errors}"


@pytest.fixture
def watch() -> Watch:
    """What the test's browser pages must not do (checked when the page closes)."""
    return Watch()


@contextmanager
def watched_page(browser, live_server: str, watch: Watch, **options) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A page of a new watched context on the live server; checked, then closed, at the end.

    The browser prefers Russian (`Accept-Language: ru-RU`) unless `locale` says otherwise.
    """
    options = {"locale": "ru-RU", **options}
    context = browser.new_context(base_url=live_server, **options)
    try:
        context.set_default_timeout(10_000)
        watch.attach(context)
        yield context.new_page()
        watch.check()
    finally:
        context.close()


@pytest.fixture
def page(browser, live_server: str, watch: Watch) -> Iterator[object]:
    """A desktop page with JavaScript, under the app's real CSP."""
    with watched_page(browser, live_server, watch, viewport=DESKTOP) as page:
        yield page


@pytest.fixture
def audit_page(browser, live_server: str, watch: Watch) -> Iterator[object]:
    """A desktop page in a context that bypasses the CSP, for axe only.

    axe is injected as an inline script, which the app's CSP rightly blocks; every other page
    runs under the real CSP, where a violation fails the test.
    """
    with watched_page(browser, live_server, watch, viewport=DESKTOP, bypass_csp=True) as page:
        yield page


@pytest.fixture
def phone_page(browser, live_server: str, watch: Watch) -> Iterator[object]:
    """A 375 px wide phone page."""
    with watched_page(
        browser, live_server, watch, viewport=PHONE, is_mobile=True, has_touch=True
    ) as page:
        yield page


@pytest.fixture
def nojs_page(browser, live_server: str, watch: Watch) -> Iterator[object]:
    """A desktop page with JavaScript turned off (its violations reach only the console)."""
    with watched_page(
        browser, live_server, watch, viewport=DESKTOP, java_script_enabled=False
    ) as page:
        yield page
