"""Buying in a real browser: catalog → product → cart → checkout → order page, with and without
JavaScript; a price changed between cart and checkout; a double click placing one order."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, Route, expect

from tests.browser.test_quality import serious_violations
from tests.factories import AUTH

LAMP = "Настольная лампа"  # 2 999 ₽, 25 in stock in the demo catalog


def money(text: str) -> int:
    """`8 997 ₽` -> 8997."""
    return int(re.sub(r"\D", "", text))


def put_lamps_in_cart(page: Page, quantity: int) -> None:
    """From the catalog to the product page, then into the cart."""
    page.goto("/?search=лампа")
    page.get_by_role("link", name=LAMP).first.click()
    expect(page.locator("h1")).to_have_text(LAMP)
    page.get_by_label("Количество", exact=True).fill(str(quantity))
    page.get_by_role("button", name="Добавить в корзину").click()
    expect(page.locator("#notice")).to_contain_text("Товар добавлен")


def fill_contacts(page: Page) -> None:
    page.get_by_label("Электронная почта").fill("olga@example.ru")
    page.get_by_label("Имя").fill("Ольга")
    page.get_by_label("Телефон").fill("+7 912 000-11-22")


def set_price(app: Flask, name: str, price: int) -> None:
    """The admin changes a price through the API while the shopper is on the checkout page."""
    client = app.test_client()
    items = client.get(f"/api/products/?search={name}").get_json()["items"]
    (product,) = [item for item in items if item["name"] == name]
    response = client.patch(f"/api/products/{product['id']}/", json={"price": price}, headers=AUTH)
    assert response.status_code == 200


def orders_of(page: Page) -> list[dict]:
    """The orders this browser's session placed, through the JSON API."""
    return page.request.get("/api/orders/").json()["items"]


def test_buying_with_javascript_and_a_price_change(page: Page, app: Flask) -> None:
    put_lamps_in_cart(page, 1)
    page.goto("/cart")
    page.get_by_role("link", name="Оформить заказ").click()
    expect(page.locator("h1")).to_have_text("Оформление заказа")
    fill_contacts(page)
    address = page.get_by_label("Адрес для курьера")
    expect(address).to_be_hidden()  # pickup is chosen: no address asked for
    page.get_by_label(re.compile("Доставка курьером")).check()
    expect(address).to_be_visible()
    address.fill("Казань, ул. Баумана, 10")
    expect(page.locator(".checkout-total")).to_have_text(re.compile("3.299"))  # 2 999 + 300
    set_price(app, LAMP, 3100)
    page.get_by_role("button", name="Подтвердить заказ").click()
    expect(page.locator("#checkout")).to_contain_text("Цены изменились")
    expect(page.locator(".checkout-total")).to_have_text(re.compile("3.400"))  # 3 100 + 300
    expect(page.get_by_label("Адрес для курьера")).to_have_value("Казань, ул. Баумана, 10")
    page.get_by_role("button", name="Подтвердить заказ").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"Заказ [A-Z0-9]{4}-[A-Z0-9]{4}"))
    expect(page.locator(".order-total")).to_have_text(re.compile("3.400"))
    expect(page.locator("#cart-count")).to_contain_text("0")
    (order,) = orders_of(page)
    assert (order["total"], order["delivery"]["method"]) == (3400, "courier")
    assert order["number"] in page.locator("h1").inner_text()


def test_buying_without_javascript(nojs_page: Page) -> None:
    page = nojs_page
    put_lamps_in_cart(page, 1)
    page.goto("/checkout")
    fill_contacts(page)
    page.get_by_label(re.compile("Счёт на оплату")).check()
    page.get_by_role("button", name="Подтвердить заказ").click()
    expect(page.locator("h1")).to_have_text(re.compile("Заказ"))
    expect(page.locator("#notice")).to_contain_text("оформлен")
    expect(page.locator(".order-status")).to_have_text("Принят, ждёт подтверждения")
    page.get_by_role("button", name="Отменить заказ").click()
    expect(page.locator(".order-status")).to_have_text("Отменён")
    assert [o["status"] for o in orders_of(page)] == ["cancelled"]


def double_click_to_order(page: Page) -> None:
    """Fill the checkout and double-click its button: one order, and its page."""
    put_lamps_in_cart(page, 1)
    page.goto("/checkout")
    fill_contacts(page)
    page.get_by_role("button", name="Подтвердить заказ").dblclick()
    expect(page.locator("h1")).to_have_text(re.compile("Заказ"))
    page.wait_for_load_state("networkidle")
    assert len(orders_of(page)) == 1


def test_a_double_click_places_one_order(page: Page) -> None:
    double_click_to_order(page)


def test_the_same_form_reaching_the_server_twice_places_one_order(nojs_page: Page) -> None:
    """A double click that gets through twice (Chromium itself sends one of two clicks): the
    browser's request is sent to the server twice, and the second answer is the one shown."""
    page = nojs_page

    def send_twice(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        route.fetch(max_redirects=0)
        route.fulfill(response=route.fetch(max_redirects=0))

    page.route("**/checkout", send_twice)
    double_click_to_order(page)
    expect(page.locator("#notice")).to_contain_text("оформлен")


def test_fields_to_fix_are_shown_in_place(page: Page) -> None:
    put_lamps_in_cart(page, 1)
    page.goto("/checkout")
    page.get_by_label("Электронная почта").fill("olga@")
    page.get_by_role("button", name="Подтвердить заказ").click()
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.get_by_label("Электронная почта")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#name-error")).to_be_visible()
    assert orders_of(page) == []


def test_axe_on_checkout_and_the_order_page(audit_page: Page) -> None:
    page = audit_page
    put_lamps_in_cart(page, 1)
    page.goto("/checkout")
    assert serious_violations(page) == []
    fill_contacts(page)
    page.get_by_role("button", name="Подтвердить заказ").click()
    expect(page.locator("h1")).to_have_text(re.compile("Заказ"))
    assert serious_violations(page) == []
