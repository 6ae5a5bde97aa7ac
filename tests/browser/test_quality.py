"""Accessibility (axe-core), the catalog page's weight, and what the pages load.

axe is injected as an inline script, so its tests use `audit_page`, whose context bypasses the
app's CSP; the pages themselves are proven to work under the CSP in test_csp.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
AXE = next((Path(__file__).parent / "vendor").glob("axe-core-*/axe.min.js"))
BUDGET_BYTES = 100 * 1024


def fill_cart(page: Page) -> None:
    """Put two products in the cart through the catalog's buttons."""
    for word in ("мышь", "блендер"):
        page.goto(f"/?search={word}")
        page.get_by_role("button", name=re.compile("В корзину")).click()
        expect(page.locator("#notice")).to_contain_text("Товар добавлен")


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the current page, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("path", ["/", "/?min_price=abc&search=мышь", "/products/1", "/cart"])
def test_axe_finds_nothing_serious(audit_page: Page, path: str) -> None:
    page = audit_page
    fill_cart(page)
    page.goto(path)
    assert serious_violations(page) == []


def test_axe_on_the_empty_cart_and_a_404(audit_page: Page, watch) -> None:
    page = audit_page
    page.goto("/cart")
    assert serious_violations(page) == []
    watch.allow("status of 404")
    page.goto("/products/999999")
    expect(page.locator("h1")).to_have_text("Страница не найдена")
    assert serious_violations(page) == []


def test_axe_after_htmx_swaps(audit_page: Page) -> None:
    page = audit_page
    fill_cart(page)
    page.goto("/cart")
    page.get_by_role("button", name="Увеличить количество: Блендер").click()
    expect(page.locator("#notice")).to_contain_text("Количество изменено.")
    assert serious_violations(page) == []
    page.goto("/")
    page.locator("#search").fill("набор")
    expect(page.locator("#catalog-results .card-title")).to_have_count(3)
    assert serious_violations(page) == []


def test_catalog_page_weight_is_within_budget(page: Page) -> None:
    sizes: dict[str, int] = {}

    def record(response) -> None:  # type: ignore[no-untyped-def]
        if response.request.resource_type in {"document", "stylesheet", "script"}:
            sizes[response.url] = len(response.body())

    page.on("response", record)
    page.goto("/")
    page.wait_for_load_state("networkidle")
    total = sum(sizes.values())
    assert total <= BUDGET_BYTES, f"{total} bytes of HTML+CSS+JS: {sizes}"
    kinds = {re.sub(r"^http://127\.0\.0\.1:\d+", "", url) for url in sizes}
    assert "/" in kinds and any(url.endswith(".css") for url in kinds)
    assert any(re.search(r"/static/htmx-2\.0\.\d+\.min\.js$", url) for url in kinds)


def test_keyboard_reaches_search_and_shows_focus(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Перейти к содержимому")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#search")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
