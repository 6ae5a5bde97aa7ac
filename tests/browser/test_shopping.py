"""Shopping in a real browser: active search, filters, paging and the cart, with and without JS."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

RESULTS = "#catalog-results"
TITLES = f"{RESULTS} .card-title a"


def mark(page: Page) -> None:
    """Leave a mark on the window: a full page load wipes it, an htmx swap keeps it."""
    page.evaluate("window.__shopperMark = 42")


def still_marked(page: Page) -> bool:
    """Whether no full page load happened since `mark`."""
    return page.evaluate("window.__shopperMark === 42")


def query(page: Page) -> dict[str, list[str]]:
    """The current URL's query parameters."""
    return parse_qs(urlsplit(page.url).query)


def api_names(page: Page, params: str) -> list[str]:
    """Product names the JSON API lists for `params`, in its order."""
    items = page.request.get(f"/api/products/?{params}").json()["items"]
    return [item["name"] for item in items]


def header_count(page: Page) -> int:
    """The header's cart count."""
    return int(re.sub(r"\D", "", page.locator("#cart-count").inner_text()))


def money(text: str) -> int:
    """`15 197 ₽` -> 15197."""
    return int(re.sub(r"\D", "", text))


def test_active_search_swaps_results_pushes_the_url_and_back_restores(page: Page) -> None:
    page.goto("/")
    expect(page.locator(TITLES)).to_have_count(20)
    mark(page)
    page.locator("#search").fill("мышь")
    expect(page.locator(TITLES)).to_have_count(1)
    expect(page.locator(TITLES)).to_have_text("Беспроводная мышь")
    expect(page).to_have_url(re.compile(r"/\?search=%D0%BC%D1%8B%D1%88%D1%8C$"))
    expect(page).to_have_title(re.compile("мышь"))
    assert still_marked(page), "the search reloaded the whole page"

    page.locator("#search").fill("набор")
    expect(page.locator(TITLES)).to_have_count(3)
    page.go_back()
    expect(page).to_have_url(re.compile(r"search=%D0%BC%D1%8B%D1%88%D1%8C$"))
    expect(page.locator(TITLES)).to_have_text(["Беспроводная мышь"])
    expect(page.locator("#search")).to_have_value("мышь")
    page.go_back()
    expect(page.locator(TITLES)).to_have_count(20)
    page.go_forward()
    expect(page.locator(TITLES)).to_have_count(1)


def test_category_price_and_sort_combine(page: Page) -> None:
    page.goto("/")
    mark(page)
    page.get_by_role("checkbox", name=re.compile("Электроника")).check()
    expect(page.locator(TITLES)).to_have_count(5)
    page.get_by_label("от", exact=True).fill("2000")
    page.get_by_label("до", exact=True).fill("20000")
    page.get_by_label("до", exact=True).press("Enter")
    page.get_by_label("Порядок").select_option("-price")
    expect(page).to_have_url(re.compile(r"sort=-price"))
    params = query(page)
    assert params == {
        "category": ["elektronika"],
        "min_price": ["2000"],
        "max_price": ["20000"],
        "sort": ["-price"],
    }
    expected = api_names(page, "category=elektronika&min_price=2000&max_price=20000&sort=-price")
    expect(page.locator(TITLES)).to_have_text(expected)
    prices = [money(text) for text in page.locator(f"{RESULTS} .price").all_inner_texts()]
    assert prices == sorted(prices, reverse=True) and min(prices) >= 2000
    assert still_marked(page)


def test_bad_price_shows_what_to_fix_and_keeps_the_text(page: Page) -> None:
    page.goto("/")
    field = page.get_by_label("от", exact=True)
    field.fill("дёшево")
    field.press("Enter")
    expect(page.locator(".form-errors")).to_contain_text("Цена от")
    expect(page.locator("#min_price-error")).to_contain_text("Введите число")
    expect(field).to_have_value("дёшево")
    expect(page.locator(TITLES)).to_have_count(20)


def test_paging(page: Page) -> None:
    page.goto("/?limit=6")
    mark(page)
    pager = page.get_by_role("navigation", name="Страницы")
    expect(pager.get_by_role("link")).to_have_text(["1", "2", "3", "4", "Вперёд →"])
    pager.get_by_role("link", name="2", exact=True).click()
    expect(page).to_have_url(re.compile(r"limit=6&page=2$"))
    expect(page.locator(TITLES)).to_have_text(api_names(page, "limit=6&offset=6"))
    expect(pager.locator("[aria-current=page]")).to_have_text("2")
    pager.get_by_role("link", name="Вперёд →").click()
    expect(page).to_have_url(re.compile(r"page=3$"))
    expect(page.locator(TITLES)).to_have_text(api_names(page, "limit=6&offset=12"))
    assert still_marked(page)
    page.go_back()
    expect(page.locator(TITLES)).to_have_text(api_names(page, "limit=6&offset=6"))


def test_add_from_the_product_page_updates_the_header_count(page: Page) -> None:
    page.goto("/?search=мышь")
    page.locator(TITLES).first.click()
    expect(page.locator("h1")).to_have_text("Беспроводная мышь")
    assert header_count(page) == 0
    mark(page)
    page.get_by_label("Количество").fill("3")
    page.get_by_role("button", name="Добавить в корзину").click()
    expect(page.locator("#cart-count")).to_contain_text("3")
    expect(page.locator("#notice")).to_contain_text("Товар добавлен в корзину.")
    assert still_marked(page)
    page.get_by_role("link", name="← Назад к товарам").click()
    expect(page).to_have_url(re.compile(r"/\?search="))
    expect(page.locator("#cart-count")).to_contain_text("3")


def test_cart_quantity_and_remove_update_totals_in_place(page: Page) -> None:
    page.goto("/?search=мышь")
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#cart-count")).to_contain_text("1")
    page.goto("/?search=блендер")
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#cart-count")).to_contain_text("2")

    page.get_by_role("link", name=re.compile("Корзина")).first.click()
    expect(page.locator(".cart-line")).to_have_count(2)
    expect(page.locator(".cart-total")).to_have_text(re.compile(r"12\s598\s₽"))
    mark(page)
    page.get_by_role("button", name="Увеличить количество: Беспроводная мышь").click()
    expect(page.locator(".cart-total")).to_have_text(re.compile(r"15\s197\s₽"))
    expect(page.locator(".cart-line").first.locator(".line-total")).to_have_text(
        re.compile(r"5\s198\s₽")
    )
    expect(page.locator("#cart-count")).to_contain_text("3")

    quantity = page.get_by_label("Количество: Блендер", exact=True)
    quantity.fill("4")
    quantity.press("Tab")
    expect(page.locator(".cart-total")).to_have_text(re.compile(r"45\s194\s₽"))
    expect(page.locator("#cart-count")).to_contain_text("6")
    expect(page.locator("#notice")).to_contain_text("Количество изменено.")

    page.get_by_role("button", name="Удалить: Беспроводная мышь").click()
    expect(page.locator(".cart-line")).to_have_count(1)
    expect(page.locator(".cart-total")).to_have_text(re.compile(r"39\s996\s₽"))
    expect(page.locator("#cart-count")).to_contain_text("4")
    assert still_marked(page)


def test_quantity_over_the_limit_is_explained(page: Page) -> None:
    page.goto("/?search=блендер")
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#cart-count")).to_contain_text("1")
    page.goto("/cart")
    quantity = page.get_by_label("Количество: Блендер", exact=True)
    quantity.fill("150")
    quantity.press("Enter")
    expect(page.locator(".line-error")).to_contain_text("не больше 99")
    expect(page.get_by_label("Количество: Блендер", exact=True)).to_have_value("1")
    expect(page.locator("#cart-count")).to_contain_text("1")


def test_clear_the_cart(page: Page) -> None:
    page.goto("/?search=блендер")
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#cart-count")).to_contain_text("1")
    page.goto("/cart")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Очистить корзину").click()
    expect(page.locator("#cart")).to_contain_text("В корзине пока пусто.")
    expect(page.locator("#cart-count")).to_contain_text("0")


def test_the_whole_flow_without_javascript(nojs_page: Page) -> None:
    page = nojs_page
    page.goto("/")
    page.locator("#search").fill("мышь")
    page.locator("#search").press("Enter")
    expect(page).to_have_url(re.compile(r"search=%D0%BC%D1%8B%D1%88%D1%8C"))
    expect(page.locator(TITLES)).to_have_text(["Беспроводная мышь"])

    page.goto("/")
    page.get_by_role("checkbox", name=re.compile("Спорт")).check()
    page.get_by_label("Порядок").select_option("price")
    page.get_by_role("button", name="Показать").click()
    expect(page.locator(TITLES)).to_have_text(api_names(page, "category=sport&sort=price"))

    page.get_by_role("button", name="В корзину: Коврик для йоги").click()
    expect(page).to_have_url(re.compile(r"category=sport"))
    expect(page.locator("#notice")).to_contain_text("Товар добавлен в корзину.")
    assert header_count(page) == 1

    page.get_by_role("link", name="Набор гантелей").click()
    page.get_by_label("Количество").fill("2")
    page.get_by_role("button", name="Добавить в корзину").click()
    expect(page.locator("h1")).to_have_text("Набор гантелей")
    assert header_count(page) == 3

    page.get_by_role("link", name="Перейти в корзину").click()
    expect(page.locator(".cart-total")).to_have_text(re.compile(r"21\s497\s₽"))
    page.get_by_label("Количество: Коврик для йоги", exact=True).fill("3")
    line = page.locator(".cart-line").filter(has_text="Коврик для йоги")
    line.get_by_role("button", name="Сохранить").click()
    expect(page.locator(".cart-total")).to_have_text(re.compile(r"28\s495\s₽"))
    expect(page.locator("#notice")).to_contain_text("Количество изменено.")
    page.get_by_role("button", name="Уменьшить количество: Набор гантелей").click()
    expect(page.locator(".cart-total")).to_have_text(re.compile(r"19\s496\s₽"))
    page.get_by_role("button", name="Удалить: Коврик для йоги").click()
    expect(page.locator(".cart-line")).to_have_count(1)
    assert header_count(page) == 1
    page.get_by_role("button", name="Очистить корзину").click()
    expect(page.locator("#cart")).to_contain_text("В корзине пока пусто.")
    assert header_count(page) == 0


def test_phone_layout_fits_375_pixels(phone_page: Page) -> None:
    page = phone_page
    for path in ("/", "/products/1", "/cart"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width}px wide on a 375px phone"


def test_a_stale_form_asks_to_refresh_the_page(page: Page, watch) -> None:
    watch.allow("status of 400")
    page.goto("/?search=блендер")
    # What a tab left open across a new session looks like: tokens the server no longer knows.
    page.context.clear_cookies()
    page.get_by_role("button", name=re.compile("В корзину")).click()
    expect(page.locator("#notice .flash-error")).to_contain_text("Обновите страницу")
    expect(page.locator(TITLES)).to_have_count(1)
    assert header_count(page) == 0
