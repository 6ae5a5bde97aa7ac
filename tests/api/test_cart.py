"""The session cart API as a frontend developer meets it: the contract's "Cart", CSRF and CORS."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import itsdangerous.timed
import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy import event, text, update
from werkzeug.test import TestResponse

from storefront.extensions import db
from storefront.models import Cart
from tests.conftest import make_app
from tests.factories import create_product, create_products, product_data

CART = "/api/cart/"
COOKIE = "storefront_session"
EMPTY_CART = {"items": [], "total_quantity": 0, "total_price": 0, "currency": "RUB"}
PRODUCT = object()  # stands for the id of a real product in the bad-input tables
THIRTY_DAYS = timedelta(days=30)


def item_url(item_id: int | str) -> str:
    """The address of one cart line."""
    return f"{CART}{item_id}/"


def body(response: TestResponse) -> Any:
    """The response's JSON with every non-integer number read as an exact Decimal."""
    return json.loads(response.get_data(as_text=True), parse_float=Decimal)


def add(client: FlaskClient, product_id: int, quantity: int | None = None, **kwargs: Any):
    """POST one product to the cart (quantity left out when None)."""
    data = {"product_id": product_id}
    if quantity is not None:
        data["quantity"] = quantity
    return client.post(CART, json=data, **kwargs)


def lines(client: FlaskClient) -> list[tuple[int, int]]:
    """The cart as (product id, quantity) pairs, in the cart's order."""
    response = client.get(CART)
    assert response.status_code == 200
    return [(item["product"]["id"], item["quantity"]) for item in body(response)["items"]]


def line_ids(client: FlaskClient) -> list[int]:
    """The ids of the cart's lines, in the cart's order."""
    return [item["id"] for item in body(client.get(CART))["items"]]


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    """Check that `response` is a problem+json of `status` and return it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    document = response.get_json()
    assert document["status"] == status
    assert {"type", "title", "status", "detail"} <= document.keys()
    return document


def error_locs(response: TestResponse) -> list[list[Any]]:
    """The `loc` of every entry of a 422's `errors`."""
    errors = problem(response, 422)["errors"]
    assert errors, "a 422 lists what is wrong"
    return [error["loc"] for error in errors]


def sql(app: Flask, statement: str, **params: Any) -> Any:
    """The single value `statement` selects."""
    with app.app_context():
        return db.session.execute(text(statement), params).scalar()


def set_cookie(response: TestResponse) -> dict[str, str]:
    """The session cookie the response sets: its value and its attributes (lower-case keys)."""
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    assert len(headers) == 1, response.headers
    first, *attributes = (part.strip() for part in headers[0].split(";"))
    cookie = {"value": first.partition("=")[2]}
    for attribute in attributes:
        name, _, value = attribute.partition("=")
        cookie[name.lower()] = value
    return cookie


def fill(data: Any, product_id: int) -> Any:
    """`data` with the PRODUCT placeholder replaced by `product_id`."""
    if isinstance(data, dict):
        return {key: product_id if value is PRODUCT else value for key, value in data.items()}
    return data


@pytest.fixture
def products(client: FlaskClient) -> list[int]:
    """Ids of three products (prices 100, 250.50, 19.99)."""
    made = create_products(
        client,
        [
            product_data(name="Мышь", price="100"),
            product_data(name="Клавиатура", price="250.50"),
            product_data(name="Коврик", price="19.99"),
        ],
    )
    return [product["id"] for product in made]


@pytest.fixture
def other_app(app: Flask, database_url: str) -> Iterator[Callable[..., Flask]]:
    """Make apps with changed settings on the same database (emptied by `app` afterwards)."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        new = make_app(database_url, **overrides)
        made.append(new)
        return new

    yield make
    for new in made:
        with new.app_context():
            db.session.remove()
            db.engine.dispose()


# Reading


def test_empty_cart(client: FlaskClient) -> None:
    """A new session's cart is empty, with zero totals and the store's currency."""
    response = client.get(CART)
    assert response.status_code == 200
    assert response.get_json() == EMPTY_CART


def test_cart_is_never_cached(client: FlaskClient, products: list[int]) -> None:
    """Cart answers tell every cache not to keep them."""
    assert "no-store" in add(client, products[0]).headers["Cache-Control"]
    response = client.get(CART)
    assert "no-store" in response.headers["Cache-Control"]
    assert "ETag" not in response.headers


@pytest.mark.parametrize("path", ["/api/cart", "/api/cart/"])
def test_reading_an_empty_cart_creates_nothing(app: Flask, client: FlaskClient, path: str) -> None:
    """GET on a new session sets no cookie and writes no carts row."""
    response = client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert client.get_cookie(COOKIE) is None
    assert sql(app, "SELECT count(*) FROM carts") == 0


def test_get_costs_the_same_statements_whatever_the_size(app: Flask, client: FlaskClient) -> None:
    """GET /api/cart/ runs as many SQL statements for 20 lines as for 1."""
    ids = [
        p["id"]
        for p in create_products(client, [product_data(name=f"Товар {n}") for n in range(20)])
    ]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    counts = {}
    with app.app_context():
        engine = db.engine
    for size in (1, 20):
        client.delete(CART)
        for product_id in ids[:size]:
            assert add(client, product_id).status_code == 201
        client.get(CART)  # warm up: connection set-up is not the cart's cost
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(CART)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(response.get_json()["items"]) == size
        counts[size] = len(statements)
    assert counts[1] == counts[20] >= 1, statements


# Adding


def test_first_add_creates_the_cart(app: Flask, client: FlaskClient, products: list[int]) -> None:
    """The first add answers 201 with the whole cart and writes one carts row."""
    response = add(client, products[0], 2)
    assert response.status_code == 201
    cart = response.get_json()
    [line] = cart["items"]
    assert line["product"] == client.get(f"/api/products/{products[0]}/").get_json()
    assert line["quantity"] == 2
    assert line["line_total"] == 200
    assert isinstance(line["id"], int)
    assert (cart["total_quantity"], cart["total_price"], cart["currency"]) == (2, 200, "RUB")
    assert client.get(CART).get_json() == cart
    assert sql(app, "SELECT count(*) FROM carts") == 1


def test_quantity_defaults_to_one(client: FlaskClient, products: list[int]) -> None:
    """Leaving out quantity adds one."""
    assert add(client, products[0]).status_code == 201
    assert lines(client) == [(products[0], 1)]


def test_same_product_twice_is_one_growing_line(client: FlaskClient, products: list[int]) -> None:
    """Adding a product already in the cart grows its line instead of adding another."""
    first = add(client, products[0], 2).get_json()["items"][0]["id"]
    response = add(client, products[0], 3)
    assert response.status_code == 201
    [line] = response.get_json()["items"]
    assert (line["id"], line["quantity"]) == (first, 5)
    assert response.get_json()["total_quantity"] == 5


def test_totals_are_exact_decimals(client: FlaskClient) -> None:
    """Line totals and the cart total are exact (0.10 × 3 is 0.3, not 0.30000000000000004)."""
    cheap = create_product(client, name="Скрепка", price="0.10")["id"]
    dear = create_product(client, name="Папка", price="19.99")["id"]
    add(client, cheap, 3)
    response = add(client, dear, 3)
    cart = body(response)
    assert [item["line_total"] for item in cart["items"]] == [Decimal("0.3"), Decimal("59.97")]
    assert cart["total_price"] == Decimal("60.27")
    assert [item["product"]["price"] for item in cart["items"]] == [
        Decimal("0.1"),
        Decimal("19.99"),
    ]
    raw = response.get_data(as_text=True)
    assert '"line_total":0.3,' in raw
    assert '"total_price":60.27,' in raw
    assert not re.search(r'"\d+(\.\d+)?"', raw), "money is a JSON number, never a string"


@pytest.mark.parametrize(
    ("price", "quantity", "shown_price", "shown_total"),
    [
        ("2599.00", 2, "2599", "5198"),
        ("0.50", 3, "0.5", "1.5"),
        ("1000000000", 99, "1000000000", "99000000000"),
    ],
)
def test_money_is_written_normalised(
    client: FlaskClient, price: str, quantity: int, shown_price: str, shown_total: str
) -> None:
    """Prices and totals are plain numbers: no trailing zeros, no exponent, no strings."""
    product_id = create_product(client, name="Товар", price=price)["id"]
    raw = add(client, product_id, quantity).get_data(as_text=True)
    assert f'"price":{shown_price},' in raw
    assert f'"line_total":{shown_total},' in raw
    assert f'"total_price":{shown_total},' in raw
    assert not re.search(r'"\d+(\.\d+)?"', raw)
    assert not re.search(r"\d[eE][+-]?\d", raw)
    assert not re.search(r"\d\.\d*0[,}]", raw), "no trailing zeros"


def test_items_keep_the_order_they_were_first_added(
    client: FlaskClient, products: list[int]
) -> None:
    """Growing or changing a line does not move it."""
    first, second, third = products
    for product_id in (second, first, third):
        add(client, product_id)
    add(client, second, 2)
    client.put(item_url(line_ids(client)[1]), json={"quantity": 5})
    assert lines(client) == [(second, 3), (first, 5), (third, 1)]


def test_cart_shows_the_current_price(
    client: FlaskClient, products: list[int], admin: dict[str, str]
) -> None:
    """A price change shows in carts that already hold the product."""
    add(client, products[0], 3)
    patch = client.patch(f"/api/products/{products[0]}/", json={"price": "99.90"}, headers=admin)
    assert patch.status_code == 200
    cart = body(client.get(CART))
    assert cart["items"][0]["product"]["price"] == Decimal("99.9")
    assert cart["items"][0]["line_total"] == Decimal("299.7")
    assert cart["total_price"] == Decimal("299.7")


def test_unknown_product_is_404(app: Flask, client: FlaskClient, products: list[int]) -> None:
    """Adding a product that does not exist answers 404 and writes nothing."""
    problem(add(client, 999_999), 404)
    assert sql(app, "SELECT count(*) FROM carts") == 0
    add(client, products[0])
    before = client.get(CART).get_json()
    problem(add(client, 999_999), 404)
    assert client.get(CART).get_json() == before


@pytest.mark.parametrize(("first", "then"), [(90, 10), (99, 1), (50, 50)])
def test_sum_over_99_is_refused(
    client: FlaskClient, products: list[int], first: int, then: int
) -> None:
    """Adding more than a line may hold answers 422 on quantity and changes nothing."""
    add(client, products[1])
    assert add(client, products[0], first).status_code == 201
    before = client.get(CART).get_json()
    assert ["body", "quantity"] in error_locs(add(client, products[0], then))
    assert client.get(CART).get_json() == before


def test_quantity_99_is_allowed(client: FlaskClient, products: list[int]) -> None:
    """A line may hold exactly 99, by adding or by setting."""
    assert add(client, products[0], 99).status_code == 201
    assert add(client, products[1], 98).status_code == 201
    assert client.put(item_url(line_ids(client)[1]), json={"quantity": 99}).status_code == 200
    assert lines(client) == [(products[0], 99), (products[1], 99)]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"product_id": PRODUCT, "quantity": 0}, "quantity"),
        ({"product_id": PRODUCT, "quantity": -1}, "quantity"),
        ({"product_id": PRODUCT, "quantity": 100}, "quantity"),
        ({"product_id": PRODUCT, "quantity": "3"}, "quantity"),
        ({"product_id": PRODUCT, "quantity": 1.5}, "quantity"),
        ({"product_id": PRODUCT, "quantity": True}, "quantity"),
        ({"product_id": PRODUCT, "quantity": None}, "quantity"),
        ({"quantity": 1}, "product_id"),
        ({"product_id": PRODUCT, "colour": "red"}, "colour"),
        ({"product_id": None}, "product_id"),
        ({"product_id": "1"}, "product_id"),
        ({"product_id": True}, "product_id"),
        ({"product_id": 0}, "product_id"),
        ({"product_id": -1}, "product_id"),
        ({"product_id": 2**31}, "product_id"),
        ({"product_id": 2**63}, "product_id"),
        ({"product_id": 10**30}, "product_id"),
    ],
)
def test_bad_add_is_422_naming_the_field(
    client: FlaskClient, products: list[int], data: dict[str, Any], field: str
) -> None:
    """An add with a bad value answers 422 locating it in the body; the cart is unchanged."""
    add(client, products[1], 2)
    before = client.get(CART).get_json()
    locs = error_locs(client.post(CART, json=fill(data, products[0])))
    assert all(loc[0] == "body" for loc in locs)
    assert ["body", field] in locs
    assert client.get(CART).get_json() == before


def test_every_bad_field_is_listed(client: FlaskClient) -> None:
    """Two bad values give two errors, each naming its field."""
    response = client.post(CART, json={"product_id": "1", "quantity": "3"})
    assert sorted(error_locs(response)) == [["body", "product_id"], ["body", "quantity"]]


@pytest.mark.parametrize(
    "data",
    [
        '"{\\"product_id\\": 1}"',
        "[]",
        '[{"product_id": 1}]',
        "1",
        "null",
        "{}",
    ],
)
def test_add_needs_a_json_object(
    app: Flask, client: FlaskClient, products: list[int], data: str
) -> None:
    """A body that is JSON but not an object (a string holding JSON too) is a 422."""
    response = client.post(CART, data=data, content_type="application/json")
    assert all(loc[0] == "body" for loc in error_locs(response))
    assert sql(app, "SELECT count(*) FROM cart_items") == 0


# Changing and removing


def test_put_sets_the_quantity(client: FlaskClient, products: list[int]) -> None:
    """PUT replaces a line's quantity and answers the whole cart."""
    add(client, products[0], 5)
    add(client, products[1])
    response = client.put(item_url(line_ids(client)[0]), json={"quantity": 2})
    assert response.status_code == 200
    cart = body(response)
    assert [item["quantity"] for item in cart["items"]] == [2, 1]
    assert cart["total_quantity"] == 3
    assert cart["total_price"] == Decimal("450.5")


def test_put_zero_removes_the_line(client: FlaskClient, products: list[int]) -> None:
    """Setting a quantity of 0 removes the line."""
    add(client, products[0])
    add(client, products[1])
    response = client.put(item_url(line_ids(client)[0]), json={"quantity": 0})
    assert response.status_code == 200
    assert [item["product"]["id"] for item in response.get_json()["items"]] == [products[1]]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"quantity": -1}, "quantity"),
        ({"quantity": 100}, "quantity"),
        ({"quantity": "3"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({}, "quantity"),
        ({"quantity": 2, "product_id": 1}, "product_id"),
    ],
)
def test_bad_put_is_422_naming_the_field(
    client: FlaskClient, products: list[int], data: dict[str, Any], field: str
) -> None:
    """A PUT with a bad value answers 422 locating it in the body; the line is unchanged."""
    add(client, products[0], 4)
    before = client.get(CART).get_json()
    locs = error_locs(client.put(item_url(line_ids(client)[0]), json=data))
    assert all(loc[0] == "body" for loc in locs)
    assert ["body", field] in locs
    assert client.get(CART).get_json() == before


def test_delete_removes_one_line(client: FlaskClient, products: list[int]) -> None:
    """DELETE of a line answers the cart without it."""
    for product_id in products:
        add(client, product_id)
    response = client.delete(item_url(line_ids(client)[1]))
    assert response.status_code == 200
    assert [item["product"]["id"] for item in response.get_json()["items"]] == [
        products[0],
        products[2],
    ]
    assert lines(client) == [(products[0], 1), (products[2], 1)]


def test_delete_cart_empties_it(client: FlaskClient, products: list[int]) -> None:
    """DELETE of the cart answers an empty cart, and it stays empty."""
    for product_id in products:
        add(client, product_id)
    response = client.delete(CART)
    assert response.status_code == 200
    assert response.get_json() == EMPTY_CART
    assert client.get(CART).get_json() == EMPTY_CART


def test_delete_cart_of_a_new_session_creates_nothing(app: Flask, client: FlaskClient) -> None:
    """Emptying a cart that never existed answers an empty cart and writes nothing."""
    response = client.delete(CART)
    assert response.status_code == 200
    assert response.get_json() == EMPTY_CART
    assert sql(app, "SELECT count(*) FROM carts") == 0


@pytest.mark.parametrize("method", ["put", "delete"])
@pytest.mark.parametrize(
    "item_id", ["2147483648", "2147483647", "0", "-1", "abc", "1.5", "１", "9" * 5000]
)
def test_item_ids_outside_the_cart_are_404(
    client: FlaskClient, products: list[int], method: str, item_id: str
) -> None:
    """A line id that is not in this cart, or not an id at all, is 404 in the path."""
    add(client, products[0])
    before = client.get(CART).get_json()
    problem(getattr(client, method)(item_url(item_id), json={"quantity": 1}), 404)
    assert client.get(CART).get_json() == before


# Request bodies


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"product_id": 1,}', b"{'product_id': 1}", b"NaN", b'{"product_id": NaN}', b"\xff"],
)
@pytest.mark.parametrize("method", ["post", "put"])
def test_malformed_json_is_400(
    app: Flask, client: FlaskClient, products: list[int], raw: bytes, method: str
) -> None:
    """A body that does not parse as JSON answers 400 and changes nothing."""
    add(client, products[0])
    before = client.get(CART).get_json()
    url = CART if method == "post" else item_url(line_ids(client)[0])
    problem(getattr(client, method)(url, data=raw, content_type="application/json"), 400)
    assert client.get(CART).get_json() == before


@pytest.mark.parametrize(
    ("method", "target"),
    [("post", "cart"), ("put", "line"), ("delete", "line"), ("delete", "cart")],
)
@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("product_id=1&quantity=1", "application/x-www-form-urlencoded"),
        ('{"product_id": 1, "quantity": 1}', "text/plain"),
        ('{"product_id": 1, "quantity": 1}', "multipart/form-data; boundary=x"),
    ],
)
def test_non_json_body_is_415(
    client: FlaskClient,
    products: list[int],
    method: str,
    target: str,
    data: str,
    content_type: str,
) -> None:
    """A write whose body is not application/json (what a cross-site form sends) is 415."""
    add(client, products[0])
    before = client.get(CART).get_json()
    url = CART if target == "cart" else item_url(line_ids(client)[0])
    problem(getattr(client, method)(url, data=data, content_type=content_type), 415)
    assert client.get(CART).get_json() == before


def test_delete_without_body_needs_no_content_type(
    client: FlaskClient, products: list[int]
) -> None:
    """DELETE of a line or of the cart works with no body and no Content-Type."""
    add(client, products[0])
    add(client, products[1])
    response = client.delete(item_url(line_ids(client)[0]))
    assert response.status_code == 200
    assert "Content-Type" not in response.request.headers
    response = client.delete(CART)
    assert response.status_code == 200
    assert "Content-Type" not in response.request.headers


def test_body_over_the_limit_is_413(
    app: Flask, other_app: Callable[..., Flask], products: list[int]
) -> None:
    """A body larger than MAX_CONTENT_LENGTH answers 413 problem+json and writes nothing."""
    client = other_app(MAX_CONTENT_LENGTH=1000).test_client()
    padded = {"product_id": products[0], "note": "x" * 2000}
    problem(client.post(CART, json=padded), 413)
    assert sql(app, "SELECT count(*) FROM carts") == 0
    assert add(client, products[0]).status_code == 201


# Sessions and the cookie


@pytest.mark.parametrize("b_has_a_cart", [False, True])
def test_sessions_cannot_touch_each_other(
    app: Flask, products: list[int], b_has_a_cart: bool
) -> None:
    """Another session cannot see, change or remove a line: 404, and the line is unchanged."""
    shopper_a, shopper_b = app.test_client(), app.test_client()
    line = add(shopper_a, products[0], 3).get_json()["items"][0]["id"]
    if b_has_a_cart:
        add(shopper_b, products[1])
    expected_b = [(products[1], 1)] if b_has_a_cart else []
    assert lines(shopper_b) == expected_b
    problem(shopper_b.put(item_url(line), json={"quantity": 7}), 404)
    problem(shopper_b.put(item_url(line), json={"quantity": 0}), 404)
    problem(shopper_b.delete(item_url(line)), 404)
    assert shopper_b.delete(CART).status_code == 200
    assert lines(shopper_a) == [(products[0], 3)]


def _flip(value: str) -> str:
    """`value` with one character of its signed payload changed."""
    return value[:5] + ("A" if value[5] != "A" else "B") + value[6:]


def _foreign_cookie(app: Flask, value: str) -> str:
    """A cookie holding `value`'s session, signed with another secret key."""
    session = app.session_interface.get_signing_serializer(app).loads(value)
    stranger = Flask("stranger")
    stranger.secret_key = "another-secret-key"
    return SecureCookieSessionInterface().get_signing_serializer(stranger).dumps(session)


def _bad_token_cookie(app: Flask, _value: str) -> str:
    """A correctly signed cookie whose cart token is not a token."""
    return app.session_interface.get_signing_serializer(app).dumps({"cart": ["not", "a", "token"]})


@pytest.mark.parametrize(
    "forge",
    [
        lambda _app, _value: "garbage",
        lambda _app, _value: "",
        lambda _app, value: _flip(value),
        lambda _app, value: value[:-3],
        _foreign_cookie,
        _bad_token_cookie,
    ],
    ids=["garbage", "empty", "flipped", "truncated", "other-key", "bad-token"],
)
def test_forged_cookie_gets_a_new_empty_cart(
    app: Flask, products: list[int], forge: Callable[[Flask, str], str]
) -> None:
    """A tampered or foreign cookie reads as a new session: empty cart, no error."""
    owner = app.test_client()
    add(owner, products[0], 4)
    forger = app.test_client()
    forger.set_cookie(COOKIE, forge(app, owner.get_cookie(COOKIE).value))
    response = forger.get(CART)
    assert response.status_code == 200
    assert response.get_json() == EMPTY_CART
    assert add(forger, products[1]).status_code == 201
    assert lines(forger) == [(products[1], 1)]
    assert lines(owner) == [(products[0], 4)]
    assert sql(app, "SELECT count(*) FROM carts") == 2


def test_cookie_flags(client: FlaskClient, products: list[int]) -> None:
    """The first add sets an HttpOnly, SameSite=Lax, site-wide cookie for about 30 days."""
    response = add(client, products[0])
    cookie = set_cookie(response)
    assert "httponly" in cookie
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert "secure" not in cookie
    if "max-age" in cookie:
        lifetime = timedelta(seconds=int(cookie["max-age"]))
    else:
        expires = datetime.strptime(cookie["expires"], "%a, %d %b %Y %H:%M:%S GMT")
        lifetime = expires.replace(tzinfo=UTC) - datetime.now(UTC)
    assert abs(lifetime - THIRTY_DAYS) < timedelta(minutes=5)


def test_a_change_restarts_the_cookie_lifetime_once_a_day(
    app: Flask, client: FlaskClient, products: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change re-sends a cookie signed over a day ago (30 days again), not a fresh one."""
    add(client, products[0])
    assert "set-cookie" not in add(client, products[1]).headers, "a fresh cookie is re-sent"
    token = sql(app, "SELECT token FROM carts")
    serializer = app.session_interface.get_signing_serializer(app)
    two_days_ago = time.time() - 2 * 24 * 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: two_days_ago)
    old = serializer.dumps({"cart": token, "_permanent": True})
    monkeypatch.undo()
    client.set_cookie(COOKIE, old)
    assert "set-cookie" not in client.get(CART).headers, "a read re-sends the cookie"
    cookie = set_cookie(add(client, products[2]))
    assert serializer.loads(cookie["value"], max_age=60) == {"cart": token, "_permanent": True}
    assert lines(client) == [(products[0], 1), (products[1], 1), (products[2], 1)]


def test_cookie_is_secure_when_configured(
    other_app: Callable[..., Flask], products: list[int]
) -> None:
    """With SESSION_COOKIE_SECURE the cart cookie is marked Secure."""
    client = other_app(SESSION_COOKIE_SECURE=True).test_client()
    assert "secure" in set_cookie(add(client, products[0]))


def test_cookie_holds_only_the_cart_token(
    app: Flask, client: FlaskClient, products: list[int]
) -> None:
    """The signed cookie carries the cart's token (and Flask's 30-day flag), no cart contents."""
    value = set_cookie(add(client, products[0], 3))["value"]
    session = app.session_interface.get_signing_serializer(app).loads(value)
    token = sql(app, "SELECT token FROM carts")
    # `_permanent` is Flask's own marker for a cookie that outlives the browser session.
    assert session == {"cart": token, "_permanent": True}
    assert len(token) >= 16


# Limits and catalog changes


def test_line_limit(other_app: Callable[..., Flask], products: list[int]) -> None:
    """Past MAX_CART_LINES a new product is 422 on product_id; existing lines still grow."""
    client = other_app(MAX_CART_LINES=2).test_client()
    first, second, third = products
    add(client, first)
    add(client, second)
    before = client.get(CART).get_json()
    assert ["body", "product_id"] in error_locs(add(client, third))
    assert client.get(CART).get_json() == before
    assert add(client, first, 2).status_code == 201
    assert lines(client) == [(first, 3), (second, 1)]


def test_a_cart_holds_at_most_100_products(app: Flask, client: FlaskClient) -> None:
    """The 101st distinct product is 422, and the cart keeps its 100 lines."""
    made = create_products(client, [product_data(name=f"Товар {n}") for n in range(101)])
    ids = [product["id"] for product in made]
    for product_id in ids[:100]:
        assert add(client, product_id).status_code == 201
    assert ["body", "product_id"] in error_locs(add(client, ids[100]))
    assert [product_id for product_id, _ in lines(client)] == ids[:100]
    assert sql(app, "SELECT count(*) FROM cart_items") == 100


def test_deleting_a_product_removes_its_lines(
    app: Flask, products: list[int], admin: dict[str, str]
) -> None:
    """An admin DELETE of a product takes it out of every cart."""
    shoppers = [app.test_client(), app.test_client()]
    for shopper in shoppers:
        add(shopper, products[0], 2)
        add(shopper, products[1])
    response = shoppers[0].delete(f"/api/products/{products[0]}/", headers=admin)
    assert response.status_code == 204
    for shopper in shoppers:
        assert lines(shopper) == [(products[1], 1)]
    count = "SELECT count(*) FROM cart_items WHERE product_id = :id"
    assert sql(app, count, id=products[0]) == 0


# Cross-site request forgery and CORS


WRITES = [
    ("post", "cart", {"product_id": PRODUCT, "quantity": 1}),
    ("put", "line", {"quantity": 5}),
    ("delete", "line", None),
    ("delete", "cart", None),
]


@pytest.mark.parametrize(("method", "target", "data"), WRITES)
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://localhost:3000.evil.example",
        "http://evil.example:3000",
        "https://localhost",
        "http://localhost:3001",
    ],
)
def test_writes_from_other_origins_are_403(
    client: FlaskClient,
    products: list[int],
    method: str,
    target: str,
    data: dict[str, Any] | None,
    origin: str,
) -> None:
    """A write carrying a foreign Origin answers 403 and changes nothing."""
    add(client, products[0], 2)
    before = client.get(CART).get_json()
    url = CART if target == "cart" else item_url(line_ids(client)[0])
    kwargs = {"json": fill(data, products[1])} if data is not None else {}
    response = getattr(client, method)(url, headers={"Origin": origin}, **kwargs)
    problem(response, 403)
    assert client.get(CART).get_json() == before


@pytest.mark.parametrize(("method", "target", "data"), WRITES)
@pytest.mark.parametrize("origin", ["http://localhost", "http://localhost:3000"])
def test_writes_from_own_or_listed_origins_pass(
    client: FlaskClient,
    products: list[int],
    method: str,
    target: str,
    data: dict[str, Any] | None,
    origin: str,
) -> None:
    """The site's own origin and a CORS_ORIGINS entry may write."""
    add(client, products[0], 2)
    url = CART if target == "cart" else item_url(line_ids(client)[0])
    kwargs = {"json": fill(data, products[1])} if data is not None else {}
    response = getattr(client, method)(url, headers={"Origin": origin}, **kwargs)
    assert response.status_code == (201 if method == "post" else 200)


@pytest.mark.parametrize("path", [CART, "/api/cart", item_url(1)])
def test_preflight_from_a_listed_origin(client: FlaskClient, path: str) -> None:
    """A preflight from a CORS_ORIGINS frontend is allowed, with credentials, by name."""
    response = client.options(
        path,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert response.status_code < 300
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


@pytest.mark.parametrize("path", [CART, "/api/cart", item_url(1)])
@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:3000.evil.example"])
def test_preflight_from_an_unlisted_origin(client: FlaskClient, path: str, origin: str) -> None:
    """A preflight from any other origin gets no Allow-Origin (never a wildcard)."""
    response = client.options(
        path, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://localhost:3000", "http://localhost:3000"), ("https://evil.example", None)],
)
def test_cart_reads_carry_cors_headers_only_for_listed_origins(
    client: FlaskClient, origin: str, allowed: str | None
) -> None:
    """A credentialed GET is readable from a listed origin only, never through `*`."""
    response = client.get(CART, headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers.get("Access-Control-Allow-Origin") == allowed
    if allowed:
        assert response.headers["Access-Control-Allow-Credentials"] == "true"


# Addresses


@pytest.mark.parametrize("slash", ["", "/"])
def test_every_cart_path_works_with_and_without_slash(
    client: FlaskClient, products: list[int], slash: str
) -> None:
    """Each cart address answers with and without its trailing slash, never a redirect."""
    cart = "/api/cart" + slash
    assert client.get(cart).status_code == 200
    assert client.post(cart, json={"product_id": products[0]}).status_code == 201
    assert client.post(cart, json={"product_id": products[1]}).status_code == 201
    first, second = line_ids(client)
    assert client.put(f"/api/cart/{first}{slash}", json={"quantity": 4}).status_code == 200
    assert client.delete(f"/api/cart/{second}{slash}").status_code == 200
    assert lines(client) == [(products[0], 4)]
    assert client.delete(cart).status_code == 200
    assert lines(client) == []


# Command line


def test_purge_deletes_old_carts_only(app: Flask, products: list[int], client: FlaskClient) -> None:
    """`flask carts purge --older-than 30d` deletes a cart unchanged for 31 days, with lines."""
    old, fresh = app.test_client(), client
    add(old, products[0], 2)
    add(old, products[1])
    add(fresh, products[2])
    old_token = sql(app, "SELECT token FROM carts ORDER BY id LIMIT 1")
    with app.app_context():
        db.session.execute(
            update(Cart)
            .where(Cart.token == old_token)
            .values(updated_at=datetime.now(UTC) - timedelta(days=31))
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["carts", "purge", "--older-than", "30d"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 carts" in result.output
    assert sql(app, "SELECT count(*) FROM carts") == 1
    assert sql(app, "SELECT count(*) FROM carts WHERE token = :t", t=old_token) == 0
    assert sql(app, "SELECT count(*) FROM cart_items") == 1
    assert lines(fresh) == [(products[2], 1)]
    assert old.get(CART).get_json() == EMPTY_CART
