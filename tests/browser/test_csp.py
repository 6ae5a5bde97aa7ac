"""The pages and Swagger UI work under the app's real Content-Security-Policy, violating nothing.

Every page fixture records CSP violations and console errors and fails the test on any
(tests/browser/conftest.py); these tests walk the pages under the policy and prove the watch is
not blind. axe needs an injected inline script, so it runs in its own `bypass_csp` context
(tests/browser/test_quality.py).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Response, expect

TITLES = "#catalog-results .card-title a"


def goto(page: Page, path: str) -> Response:
    """Open `path`, checking that the document came with its CSP (so the test means it)."""
    response = page.goto(path)
    assert response is not None and response.ok, path
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, policy
    assert "unsafe-inline" not in policy, policy
    return response


def test_catalog_search_product_and_cart_work_under_the_csp(page: Page) -> None:
    goto(page, "/")
    expect(page.locator(TITLES)).to_have_count(20)
    page.evaluate("window.__sameDocument = true")

    # Active search: htmx swaps the results in place (so htmx runs under the CSP).
    page.locator("#search").fill("мышь")
    expect(page.locator(TITLES)).to_have_text(["Беспроводная мышь"])
    assert page.evaluate("window.__sameDocument === true"), "the search reloaded the page"

    # Add to cart from the results (an htmx post with the CSRF header).
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#notice")).to_contain_text("Товар добавлен")
    expect(page.locator("#cart-count")).to_contain_text("1")

    # The product page and its own add-to-cart form.
    page.locator(TITLES).first.click()
    expect(page.locator("h1")).to_have_text("Беспроводная мышь")
    page.get_by_label("Количество").fill("2")
    page.get_by_role("button", name="Добавить в корзину").click()
    expect(page.locator("#cart-count")).to_contain_text("3")

    # The cart: a quantity change swaps the totals in place.
    goto(page, "/cart")
    expect(page.locator(".cart-line")).to_have_count(1)
    page.get_by_role("button", name="Увеличить количество: Беспроводная мышь").click()
    expect(page.locator("#cart-count")).to_contain_text("4")
    expect(page.locator("#notice")).to_contain_text("Количество изменено.")


def test_product_page_loads_its_styles_and_images_under_the_csp(page: Page) -> None:
    goto(page, "/products/1")
    expect(page.locator("h1")).to_be_visible()
    # The stylesheet applied (a blocked stylesheet leaves the default serif font and margins).
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"


def test_swagger_ui_renders_and_tries_a_request_under_its_csp(page: Page) -> None:
    response = goto(page, "/api/docs")
    assert "img-src 'self' data:" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Storefront")
    operation = page.locator(".opblock-get").filter(has_text="/api/categories/").first
    operation.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(page.locator(".live-responses-table")).to_contain_text("elektronika")


def test_the_watch_fails_a_test_on_a_violation(page: Page, watch) -> None:
    """An inline script added to the page is blocked and reported: the watch is not blind."""
    goto(page, "/")
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__inlineRan = true";
          document.body.append(script);
        }"""
    )
    with pytest.raises(AssertionError, match="script-src-elem blocked inline on script at /"):
        watch.check()
    assert page.evaluate("window.__inlineRan") is None
    assert any("Content Security Policy" in error for error in watch.errors)
    watch.violations.clear()
    watch.errors.clear()


def test_the_watch_sees_violations_after_a_swap(page: Page, watch) -> None:
    """A violation in a document changed by htmx names the swap it came after."""
    goto(page, "/")
    page.locator("#search").fill("мышь")
    expect(page.locator(TITLES)).to_have_count(1)
    page.evaluate("document.getElementById('results-title').setAttribute('style', 'color: red')")
    with pytest.raises(
        AssertionError, match=r"style-src-attr .* on h1#results-title .* after htmx GET /\?search="
    ):
        watch.check()
    watch.violations.clear()
    watch.errors.clear()


def test_the_watch_sees_violations_with_javascript_off(nojs_page: Page, watch) -> None:
    """Without JavaScript no script records violations; the console still tells the watch."""
    page = nojs_page
    page.route(
        "**/blocked",
        lambda route: route.fulfill(
            body='<!doctype html><title>x</title><p style="color: red">x</p>',
            content_type="text/html",
            headers={"Content-Security-Policy": "style-src 'self'"},
        ),
    )
    page.goto("/blocked")
    with pytest.raises(AssertionError, match="Applying inline style violates"):
        watch.check()
    watch.errors.clear()


# What browser extensions (dark themes, password managers, translators) and DevTools do to a
# page: set inline styles through the CSSOM, which a CSP allows, on its elements, new ones too.
STYLE_LIKE_AN_EXTENSION = """
const mark = () => document.querySelectorAll("[id]").forEach((element) => {
  element.style.setProperty("--extension-mark", "1");
});
document.addEventListener("DOMContentLoaded", mark);
document.addEventListener("htmx:afterSettle", mark);
"""


def test_swaps_keep_the_console_clean_when_the_browser_styles_the_page(page: Page, watch) -> None:
    """htmx's settle step re-set such styles with setAttribute, which the CSP blocks: the
    console showed "Applying inline style violates ... 'style-src 'self''" after every swap."""
    page.add_init_script(STYLE_LIKE_AN_EXTENSION)
    goto(page, "/")
    expect(page.locator(TITLES)).to_have_count(20)
    assert page.evaluate("document.querySelectorAll('[style]').length") > 10

    page.locator("#search").fill("мышь")
    expect(page.locator(TITLES)).to_have_text(["Беспроводная мышь"])
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#cart-count")).to_contain_text("1")
    page.go_back()
    expect(page.locator(TITLES)).to_have_count(20)

    goto(page, "/cart")
    page.get_by_role("button", name="Увеличить количество: Беспроводная мышь").click()
    expect(page.locator("#cart-count")).to_contain_text("2")
    watch.check()


def test_a_resized_comment_box_keeps_the_console_clean_when_checkout_answers(
    page: Page, watch
) -> None:
    """No extension needed: Chromium itself writes `style="height: …"` on a textarea the
    shopper resizes, and the checkout form comes back through htmx when a field needs fixing."""
    goto(page, "/?search=мышь")
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#cart-count")).to_contain_text("1")
    goto(page, "/checkout")
    comment = page.get_by_label("Комментарий к заказу")
    comment.scroll_into_view_if_needed()
    box = comment.bounding_box()
    assert box is not None
    # Drag the resize handle in the bottom right corner 80 px down.
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] + 80, steps=5)
    page.mouse.up()
    assert "height" in (comment.get_attribute("style") or ""), "the box was not resized"

    page.get_by_role("button", name="Подтвердить заказ").click()
    expect(page.get_by_label("Электронная почта")).to_have_attribute("aria-invalid", "true")
    watch.check()
