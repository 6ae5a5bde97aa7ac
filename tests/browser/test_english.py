"""The shop in English in a real browser: the footer's switch (with and without JavaScript),
a browser that prefers English, every page walked in English, and axe on each of them.

A new page (say, the account pages) joins the walk by adding its path to `english_pages`.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from storefront import accounts
from storefront.extensions import db
from tests.browser.conftest import DESKTOP, watched_page
from tests.browser.test_checkout import LAMP, orders_of
from tests.browser.test_quality import serious_violations

CYRILLIC = re.compile(r"[А-Яа-яЁё]+")


def switch_to(page: Page, language: str) -> None:
    """Press a language in the footer; the same page comes back in it."""
    url = page.url
    page.locator("#language-switch").get_by_role("button", name=language).click()
    expect(page.locator("html")).to_have_attribute(
        "lang", {"English": "en", "Русский": "ru"}[language]
    )
    assert page.url == url
    current = page.locator("#language-switch [aria-current=true]")
    expect(current).to_have_text(language)


def interface_text(page: Page) -> str:
    """The page's text without what the shop wrote (product and category names, descriptions)
    and without the switch's "Русский"."""
    return page.evaluate(
        """() => {
          const skip = [".card-title", ".card-category", ".product-title", ".description",
            ".line-name", ".summary-lines", ".chip", "#language-switch [lang=ru]"];
          const clone = document.body.cloneNode(true);
          clone.querySelectorAll(skip.join(",")).forEach((element) => element.remove());
          return clone.textContent;
        }"""
    )


def assert_english(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "en")
    text = interface_text(page).replace(LAMP, "")  # in labels such as "Quantity: …"
    assert not CYRILLIC.search(text), f"{page.url}: {CYRILLIC.findall(text)} in {text!r}"


def test_walking_the_shop_in_english(page: Page, watch) -> None:
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Каталог")
    switch_to(page, "English")
    expect(page.locator("h1")).to_have_text("Catalog")
    assert_english(page)
    # Active search pushes a new URL; the switch follows it (out of band) and comes back to it.
    page.locator("#search").fill("лампа")
    expect(page).to_have_url(re.compile(r"/\?search="))
    expect(page.locator("h1")).to_have_text("“лампа” — search")
    switch_to(page, "Русский")
    expect(page.locator("h1")).to_have_text("«лампа» — поиск")
    switch_to(page, "English")
    page.get_by_role("link", name=LAMP).first.click()
    expect(page.locator(".price-large")).to_have_text("RUB\u00a02,999")
    assert_english(page)
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#notice")).to_contain_text("Added to your cart.")
    page.get_by_role("link", name="Go to the cart").click()
    expect(page.locator("h1")).to_have_text("Cart")
    page.get_by_role("button", name=f"Increase quantity: {LAMP}").click()
    expect(page.locator("#notice")).to_contain_text("Quantity changed.")
    expect(page.locator(".cart-total")).to_have_text("RUB\u00a05,998")
    assert_english(page)
    page.get_by_role("link", name="Check out").click()
    expect(page.locator("h1")).to_have_text("Checkout")
    page.get_by_role("button", name="Place the order").click()
    expect(page.locator("#email-error")).to_have_text(re.compile("Enter an email address"))
    assert_english(page)
    page.get_by_label("Email").fill("olga@example.com")
    page.get_by_label("Name").fill("Olga")
    page.get_by_label("Phone").fill("+7 912 000-11-22")
    page.get_by_label(re.compile("Courier delivery")).check()
    page.get_by_label("Address for the courier").fill("10 Bauman St, Kazan")
    expect(page.locator(".checkout-total")).to_have_text("RUB\u00a05,998")  # free from 5,000
    page.get_by_role("button", name="Place the order").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^Order [A-Z0-9]{4}-[A-Z0-9]{4}$"))
    expect(page.locator("#notice")).to_contain_text("A confirmation is on its way")
    expect(page.locator(".order-status")).to_have_text("Received, awaiting confirmation")
    expect(page.locator(".order-meta")).to_have_text(re.compile(r"^Placed on \w{3} \d+, \d{4}"))
    assert_english(page)
    page.get_by_role("button", name="Cancel the order").click()
    expect(page.locator(".order-status")).to_have_text("Cancelled")
    assert_english(page)
    (order,) = orders_of(page)
    assert order["status"] == "cancelled"
    watch.allow("status of 404")
    page.goto("/products/999999")
    expect(page.locator("h1")).to_have_text("Page not found")
    assert_english(page)
    switch_to(page, "Русский")
    expect(page.locator("h1")).to_have_text("Страница не найдена")


def test_the_switch_works_without_javascript(nojs_page: Page) -> None:
    page = nojs_page
    page.goto("/?search=лампа")
    page.get_by_role("button", name="В корзину").first.click()
    page.goto("/cart")
    switch_to(page, "English")
    expect(page.locator("h1")).to_have_text("Cart")
    expect(page.locator("#cart-count")).to_contain_text("1")  # the cart survives the switch
    page.goto("/checkout")
    expect(page.locator("h1")).to_have_text("Checkout")
    switch_to(page, "Русский")
    expect(page.locator("h1")).to_have_text("Оформление заказа")


def test_a_browser_preferring_english_gets_english_until_told_otherwise(
    browser, live_server: str, watch
) -> None:
    with watched_page(browser, live_server, watch, viewport=DESKTOP, locale="en-US") as page:
        page.goto("/")
        expect(page.locator("h1")).to_have_text("Catalog")
        switch_to(page, "Русский")
        page.goto("/cart")
        expect(page.locator("h1")).to_have_text("Корзина")  # the choice beats the header


@pytest.fixture
def english_pages(audit_page: Page, app: Flask) -> list[str]:
    """An English session of a customer with an order and a full cart; the paths of every page
    to check."""
    page = audit_page
    page.goto("/cart")
    switch_to(page, "English")
    page.goto("/account/register")
    page.get_by_label("Email").fill("olga@example.com")
    page.get_by_label("Name (optional)").fill("Olga")
    page.get_by_label("Password").fill("lampa-2999-rub")
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator("h1")).to_have_text("Account")
    page.goto("/?search=лампа")
    page.get_by_role("button", name=re.compile("Add to cart")).first.click()
    expect(page.locator("#notice")).to_contain_text("Added to your cart.")
    page.goto("/checkout")
    expect(page.get_by_label("Email")).to_have_value("olga@example.com")  # the account's
    page.get_by_label("Phone").fill("+7 912 000-11-22")
    page.get_by_role("button", name="Place the order").click()
    expect(page.locator("h1")).to_have_text(re.compile("^Order "))
    order = page.url.removeprefix(page.url.split("/orders/")[0])
    page.goto("/?search=лампа")
    page.get_by_role("button", name=re.compile("Add to cart")).first.click()
    expect(page.locator("#notice")).to_contain_text("Added to your cart.")
    with app.app_context():
        _customer, token = accounts.request_reset("olga@example.com")
        db.session.commit()
    account_pages = [
        "/account",
        "/account/login",
        "/account/register",
        "/account/password-reset",
        f"/account/password-reset?token={token}",
        "/account/password-reset?token=used-or-forged",
    ]
    return ["/", "/?min_price=abc&search=lamp", "/products/1", "/cart", "/checkout", order,
            *account_pages]  # fmt: skip


def test_axe_on_every_page_in_english(audit_page: Page, english_pages: list[str], watch) -> None:
    page = audit_page
    for path in english_pages:
        page.goto(path)
        assert_english(page)
        assert serious_violations(page) == [], path
    watch.allow("status of 404")
    page.goto("/no-such-page")
    expect(page.locator("h1")).to_have_text("Page not found")
    assert serious_violations(page) == []


def test_the_account_forms_answer_in_english(page: Page) -> None:
    """What the account forms say back (fields to fix, a wrong password, the notices)."""
    page.goto("/account/register")
    switch_to(page, "English")
    page.get_by_label("Email").fill("olga@")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.locator("#password-error")).to_be_visible()
    assert_english(page)
    page.get_by_label("Email").fill("olga@example.com")
    page.get_by_label("Password").fill("lampa-2999-rub")
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator("#notice")).to_contain_text("olga@example.com")
    assert_english(page)
    page.get_by_label("Phone").fill("12")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#phone-error")).to_be_visible()
    assert_english(page)
    page.locator(".account-nav").get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Catalog")
    assert_english(page)
    page.goto("/account/login")
    page.get_by_label("Email").fill("olga@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator(".form-errors")).to_have_text("Wrong email address or password.")
    assert_english(page)
    page.get_by_role("link", name=re.compile("password", re.IGNORECASE)).click()
    page.get_by_label("Email").fill("olga@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#notice .flash")).to_be_visible()
    assert_english(page)
