"""The account pages: forms that work without JavaScript, Russian messages, the header's sign-in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_account import (
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    login,
    place_order,
    register,
    request_reset,
    reset_tokens,
    who,
)
from tests.api.test_cart import add, lines
from tests.factories import AUTH, create_product
from tests.web.conftest import csrf_token

NOTICE = re.compile(r'<div id="notice"[^>]*>(.*?)</div>', re.S)


def post_form(
    client: FlaskClient, path: str, data: dict[str, str], page: str | None = None, **kwargs: Any
) -> TestResponse:
    """POST a page's form as a browser does, with the CSRF token of `page` (default: `path`)."""
    token = csrf_token(client, page or path.partition("?")[0])
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def notice(page: str) -> str:
    """The text of the page's flashed messages."""
    match = NOTICE.search(page)
    assert match, "the page has no notice area"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.fixture
def anna(app: Flask) -> None:
    """Anna has an account (signed in on a device of hers, not on `client`)."""
    assert register(app.test_client(), name="Анна").status_code == 201


@pytest.fixture
def lamp(client: FlaskClient) -> dict[str, Any]:
    return create_product(client, name="Лампа", price=1200, stock=5)


# --- register, login, logout ----------------------------------------------------------------


def test_registering_signs_in_and_the_header_shows_who(client: FlaskClient) -> None:
    assert "Войти" in html(client.get("/"))
    form = {"email": EMAIL, "password": PASSWORD, "name": "Анна"}
    response = post_form(client, "/account/register", form)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    page = html(client.get("/account"))
    assert f"Аккаунт создан. Вы вошли как {EMAIL}." in notice(page)
    header = page.partition("<main")[0]
    assert EMAIL in header and "Выйти" in header and ">Войти<" not in header
    assert who(client) == EMAIL


def test_logging_in_and_out_with_the_forms(client: FlaskClient, anna) -> None:
    response = post_form(
        client, "/account/login", {"email": "Anna@Example.RU", "password": PASSWORD}
    )
    assert response.status_code == 303
    page = html(client.get(response.headers["Location"]))
    assert f"Вы вошли как {EMAIL}." in notice(page)
    assert EMAIL in page.partition("<main")[0]

    response = post_form(client, "/account/logout", {}, page="/")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = html(client.get("/"))
    assert "Вы вышли из аккаунта." in notice(page)
    header = page.partition("<main")[0]
    assert EMAIL not in header and "Войти" in header
    assert who(client) is None


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/account/register", {"email": EMAIL, "password": PASSWORD}),
        ("/account/login", {"email": EMAIL, "password": PASSWORD}),
        ("/account/password-reset", {"email": EMAIL}),
    ],
)
@pytest.mark.parametrize("token", [None, "forged"])
def test_a_form_without_its_csrf_token_is_refused(
    app: Flask, client: FlaskClient, anna, path: str, data: dict[str, str], token: str | None
) -> None:
    client.get(path)
    sent = data if token is None else {**data, "csrf_token": token}
    assert client.post(path, data=sent).status_code == 400
    assert who(client) is None
    assert reset_tokens(app) == []


def test_logout_without_a_csrf_token_is_refused(client: FlaskClient, anna) -> None:
    assert login(client).status_code == 200
    assert client.post("/account/logout").status_code == 400
    assert who(client) == EMAIL


def test_register_shows_what_to_fix_in_russian(client: FlaskClient) -> None:
    form = {"email": "not-an-email", "password": "short", "name": "Анна"}
    response = post_form(client, "/account/register", form)
    page = html(response)
    assert response.status_code == 200
    assert "Введите адрес электронной почты, например ivan@example.ru." in page
    assert "Пароль: от 8 до 128 символов, не совпадающий с адресом почты." in page
    assert 'value="not-an-email"' in page and 'value="Анна"' in page
    assert 'value="short"' not in page  # a password is never sent back
    assert who(client) is None


def test_register_refuses_the_email_as_password(client: FlaskClient) -> None:
    response = post_form(client, "/account/register", {"email": EMAIL, "password": EMAIL.upper()})
    assert "Пароль: от 8 до 128 символов, не совпадающий с адресом почты." in html(response)
    assert who(client) is None


def test_register_with_a_taken_email_says_so(client: FlaskClient, anna) -> None:
    response = post_form(
        client, "/account/register", {"email": "ANNA@example.ru", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "Аккаунт с этим адресом уже есть. Войдите или восстановите пароль." in html(response)


@pytest.mark.parametrize("email", [EMAIL, "nobody@example.ru"])
def test_a_failed_login_says_the_same_for_any_email(client: FlaskClient, anna, email: str) -> None:
    response = post_form(client, "/account/login", {"email": email, "password": "wrong password"})
    page = html(response)
    assert response.status_code == 200
    assert "Неверный адрес почты или пароль." in page
    assert f'value="{email}"' in page and 'value="wrong password"' not in page
    assert who(client) is None


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("//evil.example", "/account"),
        ("https://evil.example/", "/account"),
        ("/\\evil.example", "/account"),
        ("/cart", "/cart"),
    ],
)
def test_next_may_only_lead_to_this_site(
    client: FlaskClient, anna, target: str, landing: str
) -> None:
    form = {"email": EMAIL, "password": PASSWORD}
    response = post_form(
        client, "/account/login", form, page="/account/login", query_string={"next": target}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == landing


def test_the_account_page_needs_a_sign_in_and_comes_back_after_it(
    client: FlaskClient, anna
) -> None:
    response = client.get("/account")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/login?next=/account"
    page = html(client.get(response.headers["Location"]))
    assert 'action="/account/login?next=/account"' in page
    form = {"email": EMAIL, "password": PASSWORD}
    signed = post_form(
        client, "/account/login", form, page="/account/login", query_string={"next": "/account"}
    )
    assert signed.headers["Location"] == "/account"


# --- the account page -----------------------------------------------------------------------


def test_the_account_lists_the_customers_orders_with_their_status(
    app: Flask, client: FlaskClient, anna, lamp
) -> None:
    assert "Заказов пока нет." in html(signed_in_page(client, "/account"))
    number = place_order(client, lamp["id"], 1200)
    other = place_order(app.test_client(), lamp["id"], 1200)
    page = html(client.get("/account"))
    assert number in page and other not in page
    assert "Принят, ждёт подтверждения" in page
    confirmed = client.patch(f"/api/orders/{number}/", json={"status": "confirmed"}, headers=AUTH)
    assert confirmed.status_code == 200
    assert "Подтверждён" in html(client.get("/account"))


def signed_in_page(client: FlaskClient, path: str) -> TestResponse:
    """Sign `client` in as Anna (if not yet) and GET `path`."""
    if who(client) is None:
        assert login(client).status_code == 200
    return client.get(path)


def test_the_details_saved_on_the_account_page_prefill_checkout(
    client: FlaskClient, anna, lamp
) -> None:
    signed_in_page(client, "/account")
    form = {"name": "Анна Петрова", "phone": "+7 900 123-45-67", "address": "Москва, Арбат, 1"}
    response = post_form(client, "/account", form)
    assert response.status_code == 303
    assert "Данные сохранены." in notice(html(client.get("/account")))
    add(client, lamp["id"], 1)
    page = html(client.get("/checkout"))
    assert f'value="{EMAIL}"' in page and 'value="Анна Петрова"' in page
    assert re.search(r'name="phone" type="tel"[^>]* value="\+7[^"]*900[^"]*"', page)
    assert ">Москва, Арбат, 1</textarea>" in page


def test_a_guest_checkout_is_not_prefilled(client: FlaskClient, lamp) -> None:
    add(client, lamp["id"], 1)
    assert EMAIL not in html(client.get("/checkout"))


def test_a_bad_phone_is_shown_on_the_account_page(client: FlaskClient, anna) -> None:
    signed_in_page(client, "/account")
    response = post_form(client, "/account", {"name": "Анна", "phone": "call me", "address": ""})
    assert response.status_code == 200
    assert "Телефон: цифры, пробелы, + ( ) -, не меньше 5 цифр и до 32 символов." in html(response)


def test_changing_the_password_on_the_account_page(app: Flask, client: FlaskClient, anna) -> None:
    signed_in_page(client, "/account")
    wrong = post_form(
        client, "/account/password", {"current_password": "nope", "new_password": NEW_PASSWORD},
        page="/account",
    )  # fmt: skip
    assert wrong.status_code == 200 and "Это не ваш текущий пароль." in html(wrong)
    right = post_form(
        client, "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        page="/account",
    )  # fmt: skip
    assert right.status_code == 303
    assert "Пароль изменён." in notice(html(client.get("/account")))
    assert login(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 200


# --- the cart at sign-in --------------------------------------------------------------------


def test_signing_in_tells_what_the_guest_cart_brought(
    app: Flask, client: FlaskClient, anna, lamp
) -> None:
    pen = create_product(client, name="Ручка", price=50, stock=100)
    gone = create_product(client, name="Раскупленный", price=10, stock=2)
    customer = app.test_client()
    assert login(customer).status_code == 200
    add(customer, lamp["id"], 4)
    add(client, lamp["id"], 3)
    add(client, pen["id"], 2)
    add(client, gone["id"], 1)
    client.patch(f"/api/products/{gone['id']}/", json={"stock": 0}, headers=AUTH)

    response = post_form(client, "/account/login", {"email": EMAIL, "password": PASSWORD})
    text = notice(html(client.get(response.headers["Location"])))
    assert "Товары из корзины перенесены в корзину аккаунта." in text
    assert "«Лампа»: в корзине 5 шт. вместо 7 — столько можно заказать." in text
    assert "Не перенесены в корзину: Раскупленный (нет в наличии или корзина заполнена)." in text
    assert dict(lines(client)) == {lamp["id"]: 5, pen["id"]: 2}


def test_an_empty_guest_cart_brings_no_message(client: FlaskClient, anna) -> None:
    response = post_form(client, "/account/login", {"email": EMAIL, "password": PASSWORD})
    text = notice(html(client.get(response.headers["Location"])))
    assert "перенесены" not in text.lower()


# --- password reset -------------------------------------------------------------------------


def test_the_reset_request_says_the_same_for_any_email(app: Flask, anna) -> None:
    answers = []
    for email in (EMAIL, "nobody@example.ru"):
        browser = app.test_client()
        response = post_form(browser, "/account/password-reset", {"email": email})
        assert response.status_code == 303 and response.headers["Location"] == "/account/login"
        answers.append(notice(html(browser.get("/account/login"))).replace(email, "EMAIL"))
    assert answers[0] == answers[1]
    assert "мы отправили на него ссылку для смены пароля" in answers[0]
    assert len(reset_tokens(app)) == 1


def test_the_reset_link_sets_a_password_once(app: Flask, client: FlaskClient, anna) -> None:
    request_reset(app.test_client())
    (token,) = reset_tokens(app)
    path = f"/account/password-reset?token={token}"
    page = html(client.get(path))
    assert f"Аккаунт: {EMAIL}" in page and 'name="password"' in page

    response = post_form(
        client, "/account/password-reset/confirm", {"token": token, "password": NEW_PASSWORD},
        page=path,
    )  # fmt: skip
    assert response.status_code == 303 and response.headers["Location"] == "/account/login"
    assert "Пароль изменён. Войдите с новым паролем." in notice(html(client.get("/account/login")))
    assert who(client) is None
    assert login(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 200

    used = html(client.get(path))
    assert (
        "Ссылка недействительна: она уже использована, устарела или заменена более новой." in used
    )
    assert 'name="password"' not in used


def test_a_forged_reset_link_shows_the_invalid_link_message(client: FlaskClient) -> None:
    page = html(client.get("/account/password-reset?token=forged-token-value"))
    assert "Ссылка недействительна" in page and 'name="password"' not in page


def test_a_bad_new_password_on_the_reset_page_keeps_the_link(app: Flask, client, anna) -> None:
    request_reset(app.test_client())
    (token,) = reset_tokens(app)
    path = f"/account/password-reset?token={token}"
    response = post_form(
        client, "/account/password-reset/confirm", {"token": token, "password": "short"},
        page=path,
    )  # fmt: skip
    assert response.status_code == 200
    assert "Пароль: от 8 до 128 символов" in html(response)
    assert 'name="password"' in html(client.get(path))
