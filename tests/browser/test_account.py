"""Customer accounts in a real browser, with and without JavaScript: register, sign out, sign in
on a second device and find the cart and the checkout prefilled; a password reset from the link
of a mail the real sender delivered to a real SMTP server (aiosmtpd); axe on every account page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from storefront import accounts
from storefront.extensions import db
from tests.browser.conftest import DESKTOP, watched_page
from tests.browser.test_checkout import LAMP, orders_of, put_lamps_in_cart
from tests.browser.test_quality import serious_violations
from tests.mail.conftest import SmtpServer, running_smtp

EMAIL = "olga@example.ru"
PASSWORD = "lampa-2999-rub"
NEW_PASSWORD = "novyi-parol-42"
PHONE = "+7 912 000-11-22"
ADDRESS = "Казань, ул. Баумана, д. 10, кв. 5"
JAVASCRIPT = pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server that keeps what it accepts."""
    with running_smtp() as server:
        yield server


@pytest.fixture
def app_settings(smtp: SmtpServer) -> dict[str, object]:
    """The app of these tests mails through `smtp`."""
    return {"MAIL_URL": smtp.url, "MAIL_FROM": "Магазин <shop@storefront.test>"}


def device(browser, live_server: str, watch, javascript: bool):  # type: ignore[no-untyped-def]
    """A watched desktop page in a browser context of its own: another device."""
    return watched_page(
        browser, live_server, watch, viewport=DESKTOP, java_script_enabled=javascript
    )


def register(page: Page, email: str = EMAIL, password: str = PASSWORD) -> None:
    """From the header's sign-in link to a new account; the account page greets it."""
    page.goto("/")
    page.locator(".account-nav").get_by_role("link", name="Войти").click()
    page.get_by_role("link", name="Зарегистрироваться").click()
    expect(page.locator("h1")).to_have_text("Регистрация")
    page.get_by_label("Электронная почта").fill(email)
    page.get_by_label("Имя (необязательно)").fill("Ольга")
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Создать аккаунт").click()
    expect(page.locator("h1")).to_have_text("Аккаунт")
    expect(page.locator("#notice")).to_contain_text(f"Аккаунт создан. Вы вошли как {email}.")
    expect(page.locator(".account-nav .account-link")).to_contain_text(email)


def sign_in(page: Page, password: str, email: str = EMAIL) -> None:
    """Fill the sign-in form of the current page and send it."""
    expect(page.locator("h1")).to_have_text("Вход")
    page.get_by_label("Электронная почта").fill(email)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти", exact=True).click()


def sign_out(page: Page) -> None:
    """The header's button (a POST with the CSRF token); the shop forgets the customer."""
    page.locator(".account-nav").get_by_role("button", name="Выйти").click()
    expect(page.locator("#notice")).to_contain_text("Вы вышли из аккаунта.")
    expect(page.locator(".account-nav")).to_have_text("Войти")
    expect(page.locator("#cart-count")).to_contain_text("0")


@JAVASCRIPT
def test_the_cart_and_the_details_follow_the_customer_to_another_device(
    browser, live_server: str, watch, javascript: bool
) -> None:
    with device(browser, live_server, watch, javascript) as page:
        register(page)
        page.get_by_label("Телефон").fill(PHONE)
        page.get_by_label("Адрес для курьера").fill(ADDRESS)
        page.get_by_role("button", name="Сохранить", exact=True).click()
        expect(page.locator("#notice")).to_contain_text("Данные сохранены.")
        expect(page.get_by_label("Телефон")).to_have_value(PHONE)
        expect(page.locator(".account-orders")).to_have_count(0)
        expect(page.locator("main")).to_contain_text("Заказов пока нет.")
        put_lamps_in_cart(page, 2)
        expect(page.locator("#cart-count")).to_contain_text("2")
        sign_out(page)
        page.goto("/cart")
        expect(page.locator("main")).not_to_contain_text(LAMP)

    with device(browser, live_server, watch, javascript) as page:
        page.goto("/account")  # not signed in: the sign-in form, back here afterwards
        sign_in(page, PASSWORD)
        expect(page.locator("h1")).to_have_text("Аккаунт")
        expect(page.locator("#notice")).to_contain_text(f"Вы вошли как {EMAIL}.")
        expect(page.locator("#cart-count")).to_contain_text("2")
        page.goto("/cart")
        expect(page.locator(".line-name")).to_have_text([LAMP])
        page.get_by_role("link", name="Оформить заказ").click()
        expect(page.locator("h1")).to_have_text("Оформление заказа")
        expect(page.get_by_label("Электронная почта")).to_have_value(EMAIL)
        expect(page.get_by_label("Имя")).to_have_value("Ольга")
        expect(page.get_by_label("Телефон")).to_have_value(PHONE)
        page.get_by_label(re.compile("Доставка курьером")).check()
        expect(page.get_by_label("Адрес для курьера")).to_have_value(ADDRESS)
        page.get_by_role("button", name="Подтвердить заказ").click()
        expect(page.locator("h1")).to_have_text(re.compile(r"Заказ [A-Z0-9]{4}-[A-Z0-9]{4}"))
        number = page.locator("h1").inner_text().removeprefix("Заказ ")
        (order,) = orders_of(page)
        assert (order["number"], order["delivery"]["address"]) == (number, ADDRESS)
        page.locator(".account-nav .account-link").click()
        expect(page.locator("h1")).to_have_text("Аккаунт")
        row = page.locator(".account-orders li")
        expect(row).to_have_count(1)
        expect(row.get_by_role("link")).to_have_text(f"Заказ {number}")
        expect(row.locator(".order-status-small")).to_have_text("Принят, ждёт подтверждения")
        expect(row).to_contain_text("5\u00a0998\u00a0₽")  # two lamps, free delivery from 5 000
        row.get_by_role("link").click()
        expect(page.locator(".order-status")).to_have_text("Принят, ждёт подтверждения")


@JAVASCRIPT
def test_a_password_reset_from_the_mailed_link(
    browser, live_server: str, watch, app: Flask, smtp: SmtpServer, javascript: bool
) -> None:
    app.config["SHOP_BASE_URL"] = live_server  # the mail's link leads to this server
    with device(browser, live_server, watch, javascript) as page:
        register(page)
        sign_out(page)
        page.goto("/account/login")
        page.get_by_role("link", name="Забыли пароль?").click()
        expect(page.locator("h1")).to_have_text("Восстановление пароля")
        page.get_by_label("Электронная почта").fill(EMAIL)
        page.get_by_role("button", name="Прислать ссылку").click()
        expect(page.locator("#notice")).to_contain_text(f"Если для {EMAIL} есть аккаунт")

    assert smtp.received == []  # the page only queued it; the sender delivers it
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert "1 sent, 0 failed" in result.output, result.output
    (mail,) = smtp.received
    assert mail.rcpt_tos == [EMAIL]
    plain = mail.message.get_body(("plain",)).get_content()
    (link,) = re.findall(re.escape(live_server) + r"/account/password-reset\?token=[\w-]+", plain)

    with device(browser, live_server, watch, javascript) as page:
        page.goto(link)
        expect(page.locator("h1")).to_have_text("Новый пароль")
        expect(page.locator("main")).to_contain_text(f"Аккаунт: {EMAIL}")
        page.get_by_label("Новый пароль").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Сохранить пароль").click()
        expect(page.locator("#notice")).to_contain_text("Пароль изменён. Войдите с новым паролем.")
        sign_in(page, PASSWORD)
        expect(page.locator(".form-errors")).to_have_text("Неверный адрес почты или пароль.")
        expect(page.get_by_label("Электронная почта")).to_have_value(EMAIL)
        expect(page.get_by_label("Пароль")).to_have_value("")
        sign_in(page, NEW_PASSWORD)
        expect(page.locator("h1")).to_have_text("Аккаунт")
        expect(page.locator(".account-nav .account-link")).to_contain_text(EMAIL)
        page.goto(link)  # the link worked once
        expect(page.locator(".form-errors")).to_contain_text("Ссылка недействительна")
        expect(page.get_by_label("Новый пароль")).to_have_count(0)


def reset_token(app: Flask, email: str) -> str:
    """A reset token made as the request form makes one (the mail is another test's)."""
    with app.app_context():
        _customer, token = accounts.request_reset(email)
        db.session.commit()
    return token


def test_axe_on_every_account_page(audit_page: Page, app: Flask) -> None:
    page = audit_page
    for path in ("/account/login", "/account/register", "/account/password-reset"):
        page.goto(path)
        assert serious_violations(page) == [], path
    page.goto("/account/register")
    page.get_by_label("Электронная почта").fill("olga@")
    page.get_by_role("button", name="Создать аккаунт").click()
    expect(page.get_by_label("Электронная почта")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == [], "register, fields to fix"
    page.goto(f"/account/password-reset?token={'x' * 43}")
    expect(page.locator(".form-errors")).to_contain_text("Ссылка недействительна")
    assert serious_violations(page) == [], "reset confirm, a dead link"
    register(page)
    put_lamps_in_cart(page, 1)
    page.goto("/checkout")
    page.get_by_label("Телефон").fill(PHONE)
    page.get_by_role("button", name="Подтвердить заказ").click()
    expect(page.locator("h1")).to_have_text(re.compile("Заказ"))
    page.goto("/account")
    expect(page.locator(".account-orders li")).to_have_count(1)
    assert serious_violations(page) == [], "account with an order"
    page.get_by_label("Телефон").fill("12")
    page.get_by_role("button", name="Сохранить", exact=True).click()
    expect(page.get_by_label("Телефон")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == [], "account, fields to fix"
    page.goto(f"/account/password-reset?token={reset_token(app, EMAIL)}")
    expect(page.get_by_label("Новый пароль")).to_be_visible()
    assert serious_violations(page) == [], "reset confirm"
    sign_out(page)
    page.goto("/account/login")
    sign_in(page, "not-the-password")
    expect(page.locator(".form-errors")).to_be_visible()
    assert serious_violations(page) == [], "login, wrong password"


def test_the_header_and_the_password_fields_are_laid_out(page: Page) -> None:
    """The account link sits in the header's row beside the cart (not wrapped under the brand),
    and a password field is as tall as the email field above it (a 44 px touch target)."""
    register(page)
    nav = page.locator(".account-nav").bounding_box()
    cart = page.locator(".cart-link").bounding_box()
    assert nav and cart and nav["x"] + nav["width"] <= cart["x"]
    assert abs((nav["y"] + nav["height"] / 2) - (cart["y"] + cart["height"] / 2)) < 4
    page.goto("/account/login")
    email = page.get_by_label("Электронная почта").bounding_box()
    password = page.get_by_label("Пароль").bounding_box()
    assert email and password and password["height"] == email["height"] >= 44
