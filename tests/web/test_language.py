"""The interface language: `Accept-Language` on a first visit, the footer's switch after that
(kept in the session beside the cart), English on every page, prices and dates for people."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.test_checkout import scalar
from tests.factories import create_product
from tests.web.conftest import cart_count, csrf_token, htmx
from tests.web.test_checkout import add, checkout_form

NBSP = "\u00a0"
CYRILLIC = re.compile(r"[А-Яа-яЁё]+")
SWITCH = re.compile(r'<nav id="language-switch".*?</nav>', re.S)


def lang_of(html: str) -> str:
    """The page's `<html lang>`."""
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "not a page"
    return match.group(1)


def switch_of(html: str) -> str:
    """The footer's language switch in a page."""
    match = SWITCH.search(html)
    assert match, "no language switch"
    return match.group(0)


def choose(client: FlaskClient, lang: str, next_url: str = "/cart", **extra: str) -> TestResponse:
    """Press a language in the footer of `next_url`."""
    form = {"csrf_token": csrf_token(client, "/cart"), "lang": lang, "next": next_url, **extra}
    return client.post("/language", data=form)


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("en-US,en;q=0.9", "en"),
        ("en-GB", "en"),
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en;q=0.5, ru", "ru"),
        ("de-DE,de;q=0.9,en;q=0.4", "en"),
        ("de-DE,fr;q=0.9", "ru"),  # neither: the shop's default
        ("*", "ru"),
        ("", "ru"),
        (None, "ru"),
    ],
)
def test_a_first_visit_follows_accept_language(
    client: FlaskClient, header: str | None, lang: str
) -> None:
    headers = {} if header is None else {"Accept-Language": header}
    assert lang_of(client.get("/cart", headers=headers).get_data(as_text=True)) == lang


def test_the_switch_remembers_the_choice_and_goes_back(client: FlaskClient) -> None:
    html = client.get("/cart").get_data(as_text=True)
    assert lang_of(html) == "ru"
    assert '<button class="link-button" type="submit" lang="ru" aria-current="true">Русский' in html
    response = choose(client, "en", "/cart?from=footer")
    assert response.status_code == 303
    assert response.headers["Location"] == "/cart?from=footer"
    html = client.get("/cart").get_data(as_text=True)
    assert lang_of(html) == "en"
    assert "Your cart is empty." in html
    switch = switch_of(html)
    assert 'lang="en" aria-current="true">English</button>' in switch
    assert 'lang="ru">Русский</button>' in switch
    # Remembered: the next pages stay English; and the way back works the same.
    assert lang_of(client.get("/").get_data(as_text=True)) == "en"
    assert choose(client, "ru", "/").headers["Location"] == "/"
    assert lang_of(client.get("/").get_data(as_text=True)) == "ru"


@pytest.mark.parametrize(("header", "choice"), [("en-US,en", "ru"), ("ru-RU,ru", "en")])
def test_an_explicit_choice_beats_the_header(app: Flask, header: str, choice: str) -> None:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = header
    assert lang_of(client.get("/cart").get_data(as_text=True)) != choice
    choose(client, choice)
    assert lang_of(client.get("/cart").get_data(as_text=True)) == choice


def test_the_cart_survives_the_switch(client: FlaskClient) -> None:
    product = create_product(client, name="Lamp", price=1200)
    token = csrf_token(client)
    added = client.post("/cart/add", data={"csrf_token": token, "product_id": product["id"]})
    assert added.status_code == 303
    before = client.get("/api/cart/").get_json()
    assert before["total_quantity"] == 1
    choose(client, "en", "/cart")
    html = client.get("/cart").get_data(as_text=True)
    assert lang_of(html) == "en" and cart_count(html) == 1 and "Lamp" in html
    assert client.get("/api/cart/").get_json() == before
    # The cart's token and the choice share the session; a later cart change keeps both.
    client.post("/cart/add", data={"csrf_token": token, "product_id": product["id"]})
    assert client.get("/api/cart/").get_json()["total_quantity"] == 2
    assert lang_of(client.get("/cart").get_data(as_text=True)) == "en"


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/cart\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_next_cannot_leave_the_site(client: FlaskClient, next_url: str) -> None:
    response = choose(client, "en", next_url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert lang_of(client.get("/").get_data(as_text=True)) == "en"


def test_an_unknown_language_changes_nothing(client: FlaskClient) -> None:
    assert choose(client, "de").status_code == 400
    assert choose(client, "").status_code == 400
    assert lang_of(client.get("/cart").get_data(as_text=True)) == "ru"


def test_the_switch_needs_its_csrf_token(client: FlaskClient) -> None:
    response = client.post("/language", data={"lang": "en", "next": "/"})
    assert response.status_code == 400
    assert "Страница устарела" in response.get_data(as_text=True)
    assert lang_of(client.get("/cart").get_data(as_text=True)) == "ru"


def test_every_page_offers_the_switch_back_to_itself(client: FlaskClient, app: Flask) -> None:
    product = create_product(client, name="Lamp", price=1200, stock=5)
    add(client, product["id"])
    client.post("/checkout", data=checkout_form(client))
    number = scalar(app, "SELECT number FROM orders")
    key = scalar(app, "SELECT access_key FROM orders")
    add(client, product["id"])
    pages = {
        "/?search=lamp&sort=price": 200,
        f"/products/{product['id']}?back=search%3Dlamp": 200,
        "/cart": 200,
        "/checkout": 200,
        f"/orders/{number}": 200,
        f"/orders/{number}?key={key}": 200,
        "/no-such-page": 404,
        "/cart/add": 405,
    }
    for path, status in pages.items():
        response = client.get(path)
        assert response.status_code == status, path
        switch = switch_of(response.get_data(as_text=True))
        assert switch.count('action="/language"') == 2, path
        assert switch.count('name="csrf_token"') == 2, path
        assert switch.count(f'name="next" value="{path.replace("&", "&amp;")}"') == 2, path
        assert 'aria-current="true"' in switch, path


def test_a_page_answering_a_post_returns_to_its_path(client: FlaskClient) -> None:
    product = create_product(client, name="Lamp", price=1200)
    add(client, product["id"])
    html = client.post("/checkout", data=checkout_form(client, email="x")).get_data(as_text=True)
    assert 'name="next" value="/checkout"' in switch_of(html)


def test_catalog_results_update_the_switch_out_of_band(client: FlaskClient) -> None:
    """htmx pushes the results' URL: the switch comes along, so it returns to that URL."""
    create_product(client, name="Lamp", price=1200)
    response = client.get("/?search=lamp&min_price=&sort=", headers=htmx("catalog-results"))
    pushed = response.headers["HX-Push-Url"]
    assert pushed == "/?search=lamp"
    switch = switch_of(response.get_data(as_text=True))
    assert 'hx-swap-oob="true"' in switch
    assert f'name="next" value="{pushed}"' in switch


def test_json_reads_choose_no_language(app: Flask, client: FlaskClient) -> None:
    """The API's reads translate nothing, so they never run the locale selector."""
    babel = app.extensions["babel"]
    chosen = babel.locale_selector
    calls: list[str] = []

    def counting() -> Any:
        calls.append("called")
        return chosen()

    babel.locale_selector = counting
    product = create_product(client, name="Lamp", price=1200)
    for path in ("/api/products/", f"/api/products/{product['id']}/", "/api/categories/",
                 "/api/cart/", "/api/products/999/", "/api/orders/"):  # fmt: skip
        assert client.get(path, headers={"Accept-Language": "en"}).status_code in {200, 404}
    assert calls == []
    client.get("/cart", headers={"Accept-Language": "en"})
    assert calls == ["called"]  # a page asks once, however much it translates


def test_orders_keep_the_language_they_were_placed_in(
    client: FlaskClient, app: Flask, tmp_path: Path
) -> None:
    product = create_product(client, name="Lamp", price=1200, stock=5)
    choose(client, "en")
    add(client, product["id"])
    response = client.post("/checkout", data=checkout_form(client))
    assert response.status_code == 303
    assert scalar(app, "SELECT locale FROM orders") == "en"
    # The confirmation is rendered when sent, in the order's language (here into an .eml file).
    app.instance_path = str(tmp_path)
    assert "1 sent" in app.test_cli_runner().invoke(args=["mail", "send"]).output
    (sent,) = (tmp_path / "mail").iterdir()
    subject = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)["Subject"]
    assert subject.startswith("Order ") and subject.endswith(" received")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is placed. A confirmation is on its way to anna@example.ru." in html


def test_the_api_checkout_follows_the_language_too(app: Flask) -> None:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
    body = client.get("/api/checkout/").get_json()
    assert [d["title"] for d in body["delivery"]] == ["Pickup at the shop", "Courier delivery"]


# --- English everywhere -----------------------------------------------------------------------


def visible_russian(html: str) -> list[str]:
    """Cyrillic words in a page, leaving out the switch's own "Русский"."""
    html = html.replace('lang="ru">Русский</button>', "")
    return CYRILLIC.findall(html)


def test_english_pages_have_no_russian_left(client: FlaskClient, app: Flask) -> None:
    """With products named in English, every page and message reads in English alone (a
    string left unmarked for translation, or untranslated, shows up here as Cyrillic)."""
    lamp = create_product(client, name="Lamp", description="A desk lamp.", price="1200.50",
                          category="Lights", stock=3)  # fmt: skip
    create_product(client, name="Desk", description="", price=5000, category="Furniture", stock=0)
    choose(client, "en")
    token = csrf_token(client)
    answers: dict[str, str] = {}

    def visit(label: str, response: TestResponse) -> str:
        answers[label] = response.get_data(as_text=True)
        return answers[label]

    visit("catalog", client.get("/"))
    visit("catalog, nothing found", client.get("/?search=zzz"))
    visit("catalog, bad filters", client.get("/?min_price=abc&max_price=-1&sort=bad&page=9"))
    visit("results", client.get("/?search=lamp", headers=htmx("catalog-results")))
    visit("product", client.get(f"/products/{lamp['id']}"))
    visit("empty cart", client.get("/cart"))
    client.post("/cart/add", data={"csrf_token": token, "product_id": lamp["id"]})
    visit("cart after adding", client.get("/cart"))
    line = client.get("/api/cart/").get_json()["items"][0]["id"]
    too_many = {"csrf_token": token, "quantity": "100"}
    visit("cart refusal", client.post(f"/cart/items/{line}", data=too_many, headers=htmx("cart")))
    visit("cart add refusal", client.post("/cart/add", data={"csrf_token": token,
          "product_id": lamp["id"], "quantity": "9"}, headers=htmx("notice")))  # fmt: skip
    visit("checkout", client.get("/checkout?delivery=courier"))
    visit("checkout to fix", client.post("/checkout", data=checkout_form(
        client, name="Anna", email="x", phone="1", delivery="courier", address="")))  # fmt: skip
    placed = client.post("/checkout", data=checkout_form(client, name="Anna", payment="invoice"))
    visit("order", client.get(placed.headers["Location"]))
    number = scalar(app, "SELECT number FROM orders")
    client.post(f"/orders/{number}/cancel", data={"csrf_token": token})
    visit("cancelled order", client.get(f"/orders/{number}"))
    client.post(f"/orders/{number}/cancel", data={"csrf_token": token})
    visit("cancelled twice", client.get(f"/orders/{number}"))
    visit("checkout, empty cart", client.get("/checkout"))
    visit("404", client.get("/no-such-page"))
    visit("405", client.get("/cart/clear"))
    visit("csrf", client.post("/cart/clear"))
    for label, html in answers.items():
        assert not visible_russian(html), (label, visible_russian(html))
    assert f"RUB{NBSP}1,200.50" in answers["product"] and "Only 3 left" in answers["product"]
    assert "Out of stock" in answers["catalog"]
    assert "Order " in answers["order"] and "Placed on " in answers["order"]
    assert "Cancelled" in answers["cancelled order"]
    assert "can no longer be cancelled" in answers["cancelled twice"]


# --- prices and dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "currency", "amount", "text"),
    [
        ("ru", "RUB", "2599", f"2{NBSP}599{NBSP}₽"),
        ("ru", "RUB", "2599.5", f"2{NBSP}599,50{NBSP}₽"),
        ("ru", "RUB", "1000000000", f"1{NBSP}000{NBSP}000{NBSP}000{NBSP}₽"),
        ("en", "RUB", "2599", f"RUB{NBSP}2,599"),
        ("en", "RUB", "2599.5", f"RUB{NBSP}2,599.50"),
        ("en", "RUB", "0.99", f"RUB{NBSP}0.99"),
        ("en", "RUB", "1000000000", f"RUB{NBSP}1,000,000,000"),
        ("en", "EUR", "2599", "€2,599"),
        ("ru", "EUR", "2599", f"2{NBSP}599{NBSP}€"),
    ],
)
def test_prices_for_people_in_both_languages(
    app: Flask, locale: str, currency: str, amount: str, text: str
) -> None:
    from flask_babel import force_locale

    from storefront.web.layout import format_money

    with app.test_request_context("/"), force_locale(locale):
        assert format_money(Decimal(amount), currency) == text


@pytest.mark.parametrize(
    ("locale", "text"),
    [("ru", "3 дек. 2026\u202fг., 17:05"), ("en", "Dec 3, 2026, 5:05\u202fPM")],
)
def test_dates_for_people_in_both_languages(app: Flask, locale: str, text: str) -> None:
    """To the minute, in the shop's time zone (Europe/Moscow by default)."""
    from flask_babel import force_locale

    from storefront.web.layout import format_moment

    with app.test_request_context("/"), force_locale(locale):
        assert format_moment(datetime(2026, 12, 3, 14, 5, 9, tzinfo=UTC)) == text
        assert format_moment(datetime(2026, 12, 3, 14, 5, 9)) == text  # SQLite: naive UTC


@pytest.mark.parametrize("currency", ["RUB", "EUR", "USD"])
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_the_quick_price_format_is_babels_to_the_letter(
    app: Flask, locale: str, currency: str
) -> None:
    """format_money writes plain patterns itself; over many amounts it matches Babel's own."""
    import random

    from flask_babel import force_locale

    from storefront.web.layout import _money_pattern, format_money

    draw = random.Random(5)
    amounts = ["0", "0.01", "0.5", "1", "9.99", "999", "1000", "999999.99", "1000000000"]
    amounts += [f"{draw.randrange(10 ** draw.randrange(1, 13))}" for _ in range(300)]
    amounts += [
        f"{draw.randrange(10 ** draw.randrange(1, 11))}.{draw.randrange(100):02d}"
        for _ in range(300)
    ]
    with app.test_request_context("/"), force_locale(locale):
        from flask_babel import get_locale

        babel_locale = get_locale()
        for amount in map(Decimal, amounts):
            whole = amount == amount.to_integral_value()
            pattern = _money_pattern(babel_locale, currency, whole)
            expected = pattern.apply(amount, babel_locale, currency=currency, currency_digits=False)
            assert format_money(amount, currency) == expected, amount
