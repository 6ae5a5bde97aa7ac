"""Checkout through the API as a frontend meets it: the contract's "Checkout and orders"."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from storefront.extensions import db
from tests.api.test_cart import add, body, problem
from tests.conftest import empty_tables, make_app
from tests.factories import AUTH, create_product

CHECKOUT = "/api/checkout/"


def details(total: Any, **changes: Any) -> dict[str, Any]:
    """A valid checkout body agreeing to `total`, with `changes`."""
    data: dict[str, Any] = {
        "email": "Ivan.Petrov@Example.ru",
        "name": "Иван Петров",
        "phone": "+7 (900) 123-45-67",
        "delivery": {"method": "pickup", "address": None},
        "payment": "on_delivery",
        "comment": "",
        "expected_total": total,
    }
    data.update(changes)
    return data


def rows(app: Flask, statement: str, **params: Any) -> list[Any]:
    """Every row `statement` selects."""
    with app.app_context():
        return list(db.session.execute(text(statement), params))


def scalar(app: Flask, statement: str, **params: Any) -> Any:
    """The single value `statement` selects."""
    with app.app_context():
        return db.session.execute(text(statement), params).scalar()


def order_count(app: Flask) -> int:
    return scalar(app, "SELECT count(*) FROM orders")


@pytest.fixture
def stocked(client: FlaskClient) -> dict[str, dict[str, Any]]:
    """Three products: 5 in stock at 1200, untracked at 999.50, and one sold out."""
    return {
        "lamp": create_product(client, name="Лампа", price=1200, stock=5),
        "mug": create_product(client, name="Кружка", price="999.50", stock=None),
        "gone": create_product(client, name="Раскупленный", price=10, stock=0),
    }


def place(client: FlaskClient, data: dict[str, Any], **kwargs: Any) -> TestResponse:
    return client.post(CHECKOUT, json=data, **kwargs)


@pytest.fixture
def stocked_app(database_url: str):
    """Make an app with settings changed, its client and the `stocked` products in it."""
    made: list[Flask] = []

    def make(**settings: Any):
        app = make_app(database_url, **settings)
        made.append(app)
        client = app.test_client()
        products = {
            "lamp": create_product(client, name="Лампа", price=1200, stock=5),
            "mug": create_product(client, name="Кружка", price="999.50", stock=None),
        }
        return app, client, products

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    empty_tables(database_url)


# --- GET /api/checkout/ ---------------------------------------------------------------------


def test_a_new_visitor_sees_an_empty_checkout_with_the_methods(client: FlaskClient) -> None:
    response = client.get(CHECKOUT)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = body(response)
    assert data["cart"]["items"] == [] and data["cart"]["total_price"] == 0
    assert [(d["method"], d["fee"]) for d in data["delivery"]] == [("pickup", 0), ("courier", 300)]
    assert [p["method"] for p in data["payment"]] == ["on_delivery", "invoice"]
    assert all(d["title"] for d in data["delivery"] + data["payment"])
    assert scalar(client.application, "SELECT count(*) FROM carts") == 0


@pytest.mark.parametrize(("units", "courier"), [(4, 300), (5, 0)])
def test_courier_is_free_from_the_configured_total(
    client: FlaskClient, stocked, units: int, courier: int
) -> None:
    add(client, stocked["lamp"]["id"], units)  # 4 x 1200 = 4800 < 5000 <= 5 x 1200
    fees = {d["method"]: d["fee"] for d in body(client.get(CHECKOUT))["delivery"]}
    assert fees == {"pickup": 0, "courier": courier}


# --- placing an order -----------------------------------------------------------------------


def test_an_order_is_placed_from_the_cart(client: FlaskClient, app: Flask, stocked) -> None:
    add(client, stocked["lamp"]["id"], 2)
    add(client, stocked["mug"]["id"], 1)
    courier = {"method": "courier", "address": "  Москва, ул. Тверская, д. 1, кв. 2  "}
    response = place(
        client, details("3699.50", delivery=courier, payment="invoice", comment="Позвонить")
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    order = body(response)
    assert response.headers["Location"] == f"/api/orders/{order['number']}/"
    assert order["status"] == "new"
    assert order["email"] == "Ivan.Petrov@Example.ru"  # stored as typed
    assert order["delivery"] == {
        "method": "courier",
        "address": "Москва, ул. Тверская, д. 1, кв. 2",
        "fee": 300,
    }
    assert order["payment"] == {"method": "invoice"}
    assert order["comment"] == "Позвонить"
    assert order["items"] == [
        {
            "product_id": stocked["lamp"]["id"],
            "name": "Лампа",
            "unit_price": 1200,
            "quantity": 2,
            "line_total": 2400,
        },
        {
            "product_id": stocked["mug"]["id"],
            "name": "Кружка",
            "unit_price": Decimal("999.5"),
            "quantity": 1,
            "line_total": Decimal("999.5"),
        },
    ]
    assert (order["subtotal"], order["total"], order["currency"]) == (
        Decimal("3399.5"),
        Decimal("3699.5"),
        "RUB",
    )
    assert order["created_at"].endswith("+00:00")
    # The cart is empty, tracked stock went down, untracked stayed untracked.
    assert body(client.get("/api/cart/"))["items"] == []
    stock = dict(rows(app, "SELECT name, stock FROM products"))
    assert stock == {"Лампа": 3, "Кружка": None, "Раскупленный": 0}
    # The shopper's confirmation is queued in the same transaction.
    assert rows(app, "SELECT kind, recipient FROM outbox") == [
        ("order_placed", "Ivan.Petrov@Example.ru")
    ]


def test_order_numbers_are_short_readable_and_not_a_sequence(client: FlaskClient, stocked):
    numbers = []
    for _ in range(3):
        add(client, stocked["mug"]["id"])
        numbers.append(body(place(client, details("999.50")))["number"])
    assert len(set(numbers)) == 3
    for number in numbers:
        assert len(number) == 9 and number[4] == "-"
        assert set(number) - {"-"} <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")


def test_the_shop_gets_a_copy_when_shop_email_is_set(database_url: str, stocked_app) -> None:
    app, client, products = stocked_app(SHOP_EMAIL="orders@shop.example")
    add(client, products["mug"]["id"])
    assert place(client, details("999.50")).status_code == 201
    assert sorted(rows(app, "SELECT kind, recipient FROM outbox")) == [
        ("order_placed", "Ivan.Petrov@Example.ru"),
        ("order_placed_shop", "orders@shop.example"),
    ]


def test_pickup_ignores_an_address(client: FlaskClient, stocked) -> None:
    add(client, stocked["mug"]["id"])
    pickup = {"method": "pickup", "address": "Москва, Арбат, 1"}
    response = place(client, details("999.50", delivery=pickup))
    assert response.status_code == 201
    assert body(response)["delivery"] == {"method": "pickup", "address": None, "fee": 0}


def test_an_address_sent_with_pickup_must_still_be_one(client: FlaskClient, stocked) -> None:
    add(client, stocked["mug"]["id"])
    response = place(client, details("999.50", delivery={"method": "pickup", "address": "x"}))
    assert [e["loc"] for e in problem(response, 422)["errors"]] == [["body", "delivery", "address"]]


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"email": "not-an-email"}, ["body", "email"]),
        ({"email": "ivan@localhost"}, ["body", "email"]),
        ({"email": "a" * 250 + "@x.ru"}, ["body", "email"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": "И" * 201}, ["body", "name"]),
        ({"phone": "1234"}, ["body", "phone"]),
        ({"phone": "+7 (---) ---"}, ["body", "phone"]),
        ({"phone": "8 900 ABC 12 34"}, ["body", "phone"]),
        ({"phone": "1" * 33}, ["body", "phone"]),
        ({"delivery": {"method": "drone", "address": None}}, ["body", "delivery", "method"]),
        ({"delivery": {"method": "courier"}}, ["body", "delivery", "address"]),
        ({"delivery": {"method": "courier", "address": "ул."}}, ["body", "delivery", "address"]),
        (
            {"delivery": {"method": "courier", "address": "д" * 501}},
            ["body", "delivery", "address"],
        ),
        ({"payment": "card"}, ["body", "payment"]),
        ({"comment": "к" * 1001}, ["body", "comment"]),
        ({"expected_total": -1}, ["body", "expected_total"]),
        ({"expected_total": "12.345"}, ["body", "expected_total"]),
        ({"expected_total": True}, ["body", "expected_total"]),
        ({"surprise": 1}, ["body", "surprise"]),
    ],
)
def test_each_bad_field_is_named(
    client: FlaskClient, app: Flask, stocked, changes: dict[str, Any], loc: list[Any]
) -> None:
    add(client, stocked["mug"]["id"])
    document = problem(place(client, details("999.50", **changes)), 422)
    assert document["code"] == "validation_error"
    assert [error["loc"] for error in document["errors"]] == [loc]
    assert all(error["msg"] and "[" not in error["msg"] for error in document["errors"])
    assert order_count(app) == 0
    assert len(body(client.get("/api/cart/"))["items"]) == 1


def test_a_missing_field_is_named(client: FlaskClient) -> None:
    data = details(0)
    del data["phone"]
    document = problem(place(client, data), 422)
    assert [error["loc"] for error in document["errors"]] == [["body", "phone"]]


def test_an_empty_cart_is_refused_for_any_valid_body(client: FlaskClient, stocked) -> None:
    assert problem(place(client, details(0)), 409)["code"] == "cart_empty"  # no session at all
    add(client, stocked["mug"]["id"])
    client.delete("/api/cart/")
    assert problem(place(client, details(0)), 409)["code"] == "cart_empty"


def test_short_stock_is_refused_with_the_short_lines(
    client: FlaskClient, app: Flask, stocked
) -> None:
    lamp = stocked["lamp"]["id"]
    add(client, stocked["mug"]["id"])
    add(client, lamp, 5)
    lamp_line = body(client.get("/api/cart/"))["items"][1]["id"]
    with app.app_context():
        db.session.execute(text("UPDATE products SET stock = 2 WHERE id = :id"), {"id": lamp})
        db.session.commit()
    # Stock is checked before price: the total is wrong too, but the shopper hears about stock.
    document = problem(place(client, details(1)), 409)
    assert document["code"] == "out_of_stock"
    assert document["items"] == [
        {"item_id": lamp_line, "product_id": lamp, "requested": 5, "available": 2}
    ]
    assert order_count(app) == 0
    assert scalar(app, "SELECT stock FROM products WHERE id = :id", id=lamp) == 2
    assert len(body(client.get("/api/cart/"))["items"]) == 2


def test_a_changed_price_is_refused_with_the_current_cart(
    client: FlaskClient, app: Flask, stocked
) -> None:
    lamp = stocked["lamp"]["id"]
    add(client, lamp, 2)
    agreed = body(client.get(CHECKOUT))["cart"]["total_price"]
    client.patch(f"/api/products/{lamp}/", json={"price": 1300}, headers=AUTH)
    document = problem(place(client, details(agreed)), 409)
    assert document["code"] == "price_changed"
    assert document["total"] == 2600
    assert document["cart"]["total_price"] == 2600
    assert document["cart"]["items"][0]["product"]["price"] == 1300
    assert order_count(app) == 0
    assert scalar(app, "SELECT stock FROM products WHERE id = :id", id=lamp) == 5
    # Agreeing to the new total goes through.
    assert place(client, details(2600)).status_code == 201


def test_the_expected_total_includes_the_delivery_fee(client: FlaskClient, stocked) -> None:
    add(client, stocked["mug"]["id"])
    courier = {"method": "courier", "address": "Москва, Арбат, 1"}
    assert problem(place(client, details("999.50", delivery=courier)), 409)["code"] == (
        "price_changed"
    )
    assert place(client, details("1299.50", delivery=courier)).status_code == 201


# --- Idempotency-Key ------------------------------------------------------------------------


def test_a_repeat_with_the_same_key_answers_the_same_order(
    client: FlaskClient, app: Flask, stocked
) -> None:
    add(client, stocked["lamp"]["id"])
    key = {"Idempotency-Key": "order-7f3a9c"}
    first = place(client, details(1200), headers=key)
    again = place(client, details(1200), headers=key)  # the cart is empty by now
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert order_count(app) == 1
    assert scalar(app, "SELECT count(*) FROM outbox") == 1
    assert scalar(app, "SELECT stock FROM products WHERE name = 'Лампа'") == 4


def test_a_key_reused_with_another_body_is_refused(client: FlaskClient, stocked) -> None:
    add(client, stocked["mug"]["id"])
    key = {"Idempotency-Key": "k1"}
    assert place(client, details("999.50"), headers=key).status_code == 201
    document = problem(place(client, details("999.50", name="Пётр"), headers=key), 422)
    assert document["code"] == "idempotency_key_reused"


def test_a_refused_request_leaves_its_key_unused(client: FlaskClient, app: Flask, stocked):
    key = {"Idempotency-Key": "k2"}
    assert problem(place(client, details("999.50"), headers=key), 409)["code"] == "cart_empty"
    add(client, stocked["mug"]["id"])
    add(client, stocked["mug"]["id"])
    document = problem(place(client, details("999.50"), headers=key), 409)
    assert document["code"] == "price_changed"
    assert place(client, details(1999), headers=key).status_code == 201
    assert order_count(app) == 1


def test_keys_of_two_sessions_never_meet(app: Flask, stocked) -> None:
    key = {"Idempotency-Key": "same-key"}
    for _ in range(2):
        shopper = app.test_client()
        add(shopper, stocked["mug"]["id"])
        assert place(shopper, details("999.50"), headers=key).status_code == 201
    assert order_count(app) == 2


@pytest.mark.parametrize("bad", ["", "with space", "x" * 256, "ключ"])
def test_a_malformed_key_is_refused(client: FlaskClient, stocked, bad: str) -> None:
    add(client, stocked["mug"]["id"])
    response = client.post(
        CHECKOUT,
        data=json.dumps(details("999.50")).encode(),
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": bad.encode().decode("latin-1"),
        },
    )
    document = problem(response, 422)
    assert [error["loc"] for error in document["errors"]] == [["header", "Idempotency-Key"]]


# --- problems carry a code ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (
            lambda c: c.post(CHECKOUT, data="{", content_type="application/json"),
            400,
            "malformed_json",
        ),
        (
            lambda c: c.post(CHECKOUT, data="a=1", content_type="text/plain"),
            415,
            "unsupported_media_type",
        ),
        (lambda c: c.put(CHECKOUT, json={}), 405, "method_not_allowed"),
        (lambda c: c.post(CHECKOUT, json=[]), 422, "validation_error"),
        (lambda c: c.get("/api/checkout/nothing-here"), 404, "not_found"),
        (
            lambda c: c.post(CHECKOUT, json=details(0), headers={"Origin": "https://evil.example"}),
            403,
            "forbidden",
        ),
    ],
)
def test_every_checkout_problem_has_a_code(client: FlaskClient, send, status, code) -> None:
    assert problem(send(client), status)["code"] == code
