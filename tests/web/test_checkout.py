"""The checkout and order pages: a form that works without JavaScript, htmx on top, one order
per submitted form, and everything to fix shown in the form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_checkout import rows, scalar
from tests.factories import AUTH, create_product
from tests.web.conftest import csrf_token, htmx

NBSP = "\u00a0"
KEY_FIELD = re.compile(r'name="idempotency_key" value="([^"]+)"')
TOTAL_FIELD = re.compile(r'name="cart_total" value="([^"]+)"')


@pytest.fixture
def lamp(client: FlaskClient) -> dict[str, Any]:
    return create_product(client, name="Лампа", price=1200, stock=5)


def add(client: FlaskClient, product_id: int, quantity: int = 1) -> None:
    response = client.post("/api/cart/", json={"product_id": product_id, "quantity": quantity})
    assert response.status_code == 201


def checkout_form(client: FlaskClient, **changes: str) -> dict[str, str]:
    """The checkout form as a browser would post it after the shopper filled it in."""
    html = client.get("/checkout").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(client, "/checkout"),
        "idempotency_key": KEY_FIELD.search(html).group(1),
        "cart_total": TOTAL_FIELD.search(html).group(1),
        "email": "anna@example.ru",
        "name": "Анна",
        "phone": "+7 900 123-45-67",
        "delivery": "pickup",
        "address": "",
        "payment": "on_delivery",
        "comment": "",
    }
    form.update(changes)
    return form


def test_the_cart_links_to_checkout_and_the_footer_promises_nothing(client, lamp) -> None:
    add(client, lamp["id"])
    html = client.get("/cart").get_data(as_text=True)
    assert 'href="/checkout"' in html and "Оформить заказ" in html
    assert "появится позже" not in html and "скоро появится" not in html


def test_an_empty_cart_has_nothing_to_check_out(client: FlaskClient) -> None:
    html = client.get("/checkout").get_data(as_text=True)
    assert "В корзине пока пусто" in html
    assert 'name="email"' not in html


def test_the_form_uses_the_api_names_and_shows_the_total(client: FlaskClient, lamp) -> None:
    add(client, lamp["id"], 2)
    response = client.get("/checkout")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "private" in response.headers["Cache-Control"]
    for name in ("email", "name", "phone", "address", "comment", "csrf_token"):
        assert f'name="{name}"' in html
    for value in (
        'name="delivery" value="pickup"',
        'name="delivery" value="courier"',
        'name="payment" value="on_delivery"',
        'name="payment" value="invoice"',
    ):
        assert value in html  # fmt: skip
    assert f"2{NBSP}400{NBSP}₽" in html
    assert "Подтвердить заказ" in html


def test_choosing_the_courier_updates_the_summary(client: FlaskClient, lamp) -> None:
    add(client, lamp["id"], 2)
    response = client.get("/checkout?delivery=courier", headers=htmx("checkout-summary"))
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="checkout-summary"')
    assert f"300{NBSP}₽" in html and f"2{NBSP}700{NBSP}₽" in html


def test_placing_an_order_without_javascript(client: FlaskClient, app: Flask, lamp) -> None:
    add(client, lamp["id"], 2)
    courier = checkout_form(client, delivery="courier", address="Москва, Арбат, 1",
                            payment="invoice")  # fmt: skip
    response = client.post("/checkout", data=courier)
    assert response.status_code == 303, response.get_data(as_text=True)
    number = scalar(app, "SELECT number FROM orders")
    assert response.headers["Location"] == f"/orders/{number}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Заказ {number} оформлен" in page
    assert "Принят, ждёт подтверждения" in page
    assert "Лампа" in page and f"2{NBSP}700{NBSP}₽" in page
    assert "Москва, Арбат, 1" in page
    assert "Отменить заказ" in page
    assert client.get("/api/cart/").get_json()["items"] == []


def test_fields_to_fix_come_back_in_the_form(client: FlaskClient, app: Flask, lamp) -> None:
    add(client, lamp["id"])
    form = checkout_form(client, email="anna@", phone="12", delivery="courier", address="")
    response = client.post("/checkout", data=form, headers=htmx("checkout"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="checkout"')
    for field in ("email", "phone", "address"):
        assert f'id="{field}-error"' in html
    assert 'id="name-error"' not in html
    assert 'value="anna@"' in html  # what was typed stays
    assert scalar(app, "SELECT count(*) FROM orders") == 0


def test_a_double_click_places_one_order(client: FlaskClient, app: Flask, lamp) -> None:
    add(client, lamp["id"])
    form = checkout_form(client)
    first = client.post("/checkout", data=form)
    second = client.post("/checkout", data=form)  # the same form, sent again
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert scalar(app, "SELECT count(*) FROM orders") == 1
    assert scalar(app, "SELECT stock FROM products") == 4


def test_a_changed_price_is_shown_and_confirmed_again(client: FlaskClient, app, lamp) -> None:
    add(client, lamp["id"], 2)
    form = checkout_form(client)
    client.patch(f"/api/products/{lamp['id']}/", json={"price": 1500}, headers=AUTH)
    response = client.post("/checkout", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Цены изменились" in html and f"3{NBSP}000{NBSP}₽" in html
    assert scalar(app, "SELECT count(*) FROM orders") == 0
    again = {**form, "cart_total": TOTAL_FIELD.search(html).group(1),
             "idempotency_key": KEY_FIELD.search(html).group(1)}  # fmt: skip
    assert client.post("/checkout", data=again).status_code == 303
    assert scalar(app, "SELECT total FROM orders") == 3000


def test_short_stock_is_shown(client: FlaskClient, app: Flask, lamp) -> None:
    add(client, lamp["id"], 5)
    form = checkout_form(client)
    with app.app_context():
        from sqlalchemy import text

        from storefront.extensions import db

        db.session.execute(text("UPDATE products SET stock = 1"))
        db.session.commit()
    html = client.post("/checkout", data=form).get_data(as_text=True)
    assert "в наличии 1 шт., в корзине 5" in html
    assert scalar(app, "SELECT count(*) FROM orders") == 0


def test_htmx_gets_a_redirect_header(client: FlaskClient, app: Flask, lamp) -> None:
    add(client, lamp["id"])
    response = client.post("/checkout", data=checkout_form(client), headers=htmx("checkout"))
    number = scalar(app, "SELECT number FROM orders")
    assert response.headers["HX-Redirect"] == f"/orders/{number}"


def test_an_emptied_cart_goes_back_to_the_cart(client: FlaskClient, lamp) -> None:
    add(client, lamp["id"])
    form = checkout_form(client)
    client.delete("/api/cart/")
    response = client.post("/checkout", data=form)
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    assert "Корзина пуста" in client.get("/cart").get_data(as_text=True)


def test_the_form_needs_its_csrf_token(client: FlaskClient, app: Flask, lamp) -> None:
    add(client, lamp["id"])
    form = checkout_form(client)
    del form["csrf_token"]
    assert client.post("/checkout", data=form).status_code == 400
    assert scalar(app, "SELECT count(*) FROM orders") == 0


# --- the order page -------------------------------------------------------------------------


@pytest.fixture
def placed(client: FlaskClient, app: Flask, lamp) -> str:
    """The number of an order of two lamps, paid by invoice, placed by `client`."""
    add(client, lamp["id"], 2)
    assert (
        client.post("/checkout", data=checkout_form(client, payment="invoice")).status_code == 303
    )
    return scalar(app, "SELECT number FROM orders")


def test_only_the_session_or_the_key_opens_the_order_page(app: Flask, client, placed) -> None:
    stranger = app.test_client()
    assert stranger.get(f"/orders/{placed}").status_code == 404
    key = scalar(app, "SELECT access_key FROM orders")
    assert stranger.get(f"/orders/{placed}?key=nope").status_code == 404
    page = stranger.get(f"/orders/{placed}?key={key}")
    assert page.status_code == 200 and placed in page.get_data(as_text=True)


def test_the_invoice_details_are_shown(database_url: str, lamp) -> None:
    from tests.conftest import make_app

    app = make_app(database_url, SHOP_PAYMENT_DETAILS="ООО «Лампы», р/с 40702810000000000001")
    client = app.test_client()
    add(client, lamp["id"])
    client.post("/checkout", data=checkout_form(client, payment="invoice"))
    number = scalar(app, "SELECT number FROM orders")
    html = client.get(f"/orders/{number}").get_data(as_text=True)
    assert "р/с 40702810000000000001" in html and number in html


def test_cancelling_from_the_order_page(app: Flask, client, placed) -> None:
    token = csrf_token(client, f"/orders/{placed}")
    response = client.post(f"/orders/{placed}/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Отменён" in html and "Отменить заказ" not in html
    assert scalar(app, "SELECT stock FROM products") == 5
    assert rows(app, "SELECT status FROM orders") == [("cancelled",)]


def test_a_stranger_cannot_cancel(app: Flask, client, placed) -> None:
    stranger = app.test_client()
    token = csrf_token(stranger, "/cart")
    assert stranger.post(f"/orders/{placed}/cancel", data={"csrf_token": token}).status_code == 404
    assert rows(app, "SELECT status FROM orders") == [("new",)]
