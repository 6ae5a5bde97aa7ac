"""The pages and Swagger UI work under the app's real Content-Security-Policy, violating nothing.

Every `securitypolicyviolation` event a document fires is reported to the test through an
exposed binding from an init script (Playwright injects both outside the page's CSP), and every
console error is recorded too; a test passes only with none of either. axe needs an injected
inline script, so it runs in its own `bypass_csp` context (tests/browser/test_quality.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Response, expect

RECORD_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolation({
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber,
    sample: event.sample,
    page: document.location.pathname,
  });
});
"""


class CspWatch:
    """The CSP violations and console errors of one page, across its navigations."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.violations: list[dict[str, object]] = []
        self.console_errors: list[str] = []
        page.expose_binding("__cspViolation", lambda _source, info: self.violations.append(info))
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))

    def goto(self, path: str) -> Response:
        """Open `path`, checking that the document came with its CSP (so the test means it)."""
        response = self.page.goto(path)
        assert response is not None and response.ok, path
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
        return response

    def settle(self) -> None:
        """Let late events (a report fires after the blocked load) reach the test."""
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(200)

    def assert_clean(self) -> None:
        self.settle()
        assert self.violations == [], f"CSP violations: {self.violations}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


@pytest.fixture
def csp(page: Page) -> Iterator[CspWatch]:
    """The test's page, watched for CSP violations and console errors."""
    watch = CspWatch(page)
    yield watch
    watch.assert_clean()


def test_catalog_search_product_and_cart_work_under_the_csp(page: Page, csp: CspWatch) -> None:
    csp.goto("/")
    expect(page.locator("#catalog-results .card-title a")).to_have_count(20)
    page.evaluate("window.__sameDocument = true")

    # Active search: htmx swaps the results in place (so htmx runs under the CSP).
    page.locator("#search").fill("мышь")
    expect(page.locator("#catalog-results .card-title a")).to_have_text(["Беспроводная мышь"])
    assert page.evaluate("window.__sameDocument === true"), "the search reloaded the page"

    # Add to cart from the results (an htmx post with the CSRF header).
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#notice")).to_contain_text("Товар добавлен")
    expect(page.locator("#cart-count")).to_contain_text("1")

    # The product page and its own add-to-cart form.
    page.locator("#catalog-results .card-title a").first.click()
    expect(page.locator("h1")).to_have_text("Беспроводная мышь")
    page.get_by_label("Количество").fill("2")
    page.get_by_role("button", name="Добавить в корзину").click()
    expect(page.locator("#cart-count")).to_contain_text("3")

    # The cart: a quantity change swaps the totals in place.
    csp.goto("/cart")
    expect(page.locator(".cart-line")).to_have_count(1)
    page.get_by_role("button", name="Увеличить количество: Беспроводная мышь").click()
    expect(page.locator("#cart-count")).to_contain_text("4")
    expect(page.locator("#notice")).to_contain_text("Количество изменено.")
    csp.assert_clean()


def test_product_page_loads_its_styles_and_images_under_the_csp(page: Page, csp: CspWatch) -> None:
    csp.goto("/products/1")
    expect(page.locator("h1")).to_be_visible()
    # The stylesheet applied (a blocked stylesheet leaves the default serif font and margins).
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    csp.assert_clean()


def test_swagger_ui_renders_and_tries_a_request_under_its_csp(page: Page, csp: CspWatch) -> None:
    response = csp.goto("/api/docs")
    assert "img-src 'self' data:" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Storefront")
    operation = page.locator(".opblock-get").filter(has_text="/api/categories/").first
    operation.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(page.locator(".live-responses-table")).to_contain_text("elektronika")
    csp.assert_clean()


def test_the_watch_sees_a_violation(page: Page, csp: CspWatch, watch) -> None:
    """An inline script added to the page is blocked and reported: the watch is not blind."""
    csp.goto("/")
    watch.allow("Content Security Policy")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__inlineRan = true";
          document.body.append(script);
        }"""
    )
    csp.settle()
    assert page.evaluate("window.__inlineRan") is None
    assert [v["directive"] for v in csp.violations] == ["script-src-elem"]
    assert any("Content Security Policy" in e for e in csp.console_errors)
    csp.violations.clear()
    csp.console_errors.clear()
