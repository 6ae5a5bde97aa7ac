"""Orders through the API: who may read them, the status pipeline, cancelling, lines that last."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_cart import add, body, problem
from tests.api.test_checkout import CHECKOUT, details, rows, scalar
from tests.factories import AUTH, create_product

ORDERS = "/api/orders/"


def order_url(number: str, suffix: str = "") -> str:
    return f"{ORDERS}{number}/{suffix}"


def key_of(app: Flask, number: str) -> str:
    """The order's secret access key (what its mails link with)."""
    return scalar(app, "SELECT access_key FROM orders WHERE number = :n", n=number)


def stock_of(app: Flask, product_id: int) -> int | None:
    return scalar(app, "SELECT stock FROM products WHERE id = :id", id=product_id)


@pytest.fixture
def lamp(client: FlaskClient) -> dict[str, Any]:
    return create_product(client, name="Лампа", price=1200, stock=5)


@pytest.fixture
def buy(lamp: dict[str, Any]):
    """Place an order of `units` lamps from `shopper`'s cart; returns the Order."""

    def buy(shopper: FlaskClient, units: int = 2, **changes: Any) -> dict[str, Any]:
        add(shopper, lamp["id"], units)
        response = shopper.post(CHECKOUT, json=details(1200 * units, **changes))
        assert response.status_code == 201, response.get_data(as_text=True)
        return body(response)

    return buy


def test_the_session_that_ordered_reads_its_order(client: FlaskClient, buy) -> None:
    order = buy(client)
    response = client.get(order_url(order["number"]))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body(response) == order
    # Any case and no trailing slash reach the same order (a number is read over the phone).
    assert body(client.get(f"{ORDERS}{order['number'].lower()}")) == order


def test_anyone_else_gets_404_unless_they_hold_the_key(app: Flask, client, buy) -> None:
    order = buy(client)
    stranger = app.test_client()
    unknown = problem(stranger.get(order_url("ZZZZ-ZZZZ")), 404)
    hidden = problem(stranger.get(order_url(order["number"])), 404)
    assert hidden["code"] == unknown["code"] == "not_found"
    assert problem(stranger.get(order_url(order["number"]) + "?key=wrong"), 404)
    key = key_of(app, order["number"])
    assert len(key) >= 22  # at least 128 random bits
    assert body(stranger.get(order_url(order["number"]) + f"?key={key}")) == order
    assert body(stranger.get(order_url(order["number"]), headers=AUTH)) == order


def test_a_shopper_lists_only_their_own_orders(app: Flask, client, buy) -> None:
    first, second = buy(client, 1), buy(client, 1)
    other = app.test_client()
    buy(other, 1)
    page = body(client.get(ORDERS))
    assert [o["number"] for o in page["items"]] == [second["number"], first["number"]]
    assert (page["total"], page["limit"], page["offset"]) == (2, 20, 0)
    new_visitor = body(app.test_client().get(ORDERS))
    assert new_visitor == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_the_admin_lists_every_order_with_filters(app: Flask, client, buy) -> None:
    buy(client, 1, email="Anna@Example.ru")
    other = buy(app.test_client(), 1, email="boris@example.ru")
    everyone = body(client.get(ORDERS, headers=AUTH))
    assert everyone["total"] == 2
    by_email = body(client.get(f"{ORDERS}?email=ANNA@example.RU", headers=AUTH))
    assert [o["email"] for o in by_email["items"]] == ["Anna@Example.ru"]
    client.patch(order_url(other["number"]), json={"status": "confirmed"}, headers=AUTH)
    confirmed = body(client.get(f"{ORDERS}?status=confirmed", headers=AUTH))
    assert [o["number"] for o in confirmed["items"]] == [other["number"]]
    paged = body(client.get(f"{ORDERS}?limit=1&offset=1", headers=AUTH))
    assert (len(paged["items"]), paged["total"]) == (1, 2)
    document = problem(client.get(f"{ORDERS}?status=lost", headers=AUTH), 422)
    assert [e["loc"] for e in document["errors"]] == [["query", "status"]]
    assert problem(client.get(f"{ORDERS}?limit=0"), 422)["code"] == "validation_error"


def test_the_admin_moves_an_order_along_and_the_shopper_is_mailed(app, client, buy) -> None:
    order = buy(client)
    for status in ("confirmed", "shipped", "delivered"):
        response = client.patch(order_url(order["number"]), json={"status": status}, headers=AUTH)
        assert response.status_code == 200, response.get_json()
        assert body(response)["status"] == status
    assert body(client.get(order_url(order["number"])))["status"] == "delivered"
    mails = [kind for (kind,) in rows(app, "SELECT kind FROM outbox ORDER BY id")]
    assert mails == ["order_placed", "order_status", "order_status"]  # not for delivered


@pytest.mark.parametrize(
    ("path", "wanted"),
    [((), "shipped"), ((), "delivered"), (("confirmed", "shipped"), "cancelled"),
     (("cancelled",), "confirmed"), (("confirmed",), "new")],
)  # fmt: skip
def test_a_transition_off_the_pipeline_is_refused(client, buy, path, wanted) -> None:
    order = buy(client)
    for status in path:
        client.patch(order_url(order["number"]), json={"status": status}, headers=AUTH)
    response = client.patch(order_url(order["number"]), json={"status": wanted}, headers=AUTH)
    assert problem(response, 409)["code"] == "invalid_transition"


def test_only_the_admin_patches_an_order(client: FlaskClient, buy) -> None:
    order = buy(client)
    assert problem(client.patch(order_url(order["number"]), json={"status": "confirmed"}), 401)[
        "code"
    ] == ("unauthorized")
    bad = client.patch(order_url(order["number"]), json={"status": "lost"}, headers=AUTH)
    assert [e["loc"] for e in problem(bad, 422)["errors"]] == [["body", "status"]]


def test_the_shopper_cancels_a_new_order_and_the_stock_comes_back(app, client, lamp, buy) -> None:
    order = buy(client, 2)
    assert stock_of(app, lamp["id"]) == 3
    response = client.post(order_url(order["number"], "cancel"))
    assert response.status_code == 200
    assert body(response)["status"] == "cancelled"
    assert stock_of(app, lamp["id"]) == 5
    again = problem(client.post(order_url(order["number"], "cancel")), 409)
    assert again["code"] == "invalid_transition"
    assert stock_of(app, lamp["id"]) == 5
    assert [k for (k,) in rows(app, "SELECT kind FROM outbox ORDER BY id")][-1] == "order_status"


def test_a_confirmed_order_is_cancelled_by_the_admin_only(app, client, lamp, buy) -> None:
    order = buy(client, 2)
    client.patch(order_url(order["number"]), json={"status": "confirmed"}, headers=AUTH)
    assert problem(client.post(order_url(order["number"], "cancel")), 409)["code"] == (
        "invalid_transition"
    )
    response = client.patch(order_url(order["number"]), json={"status": "cancelled"}, headers=AUTH)
    assert body(response)["status"] == "cancelled"
    assert stock_of(app, lamp["id"]) == 5


def test_a_stranger_cannot_cancel_but_the_key_can(app: Flask, client, buy) -> None:
    order = buy(client)
    stranger = app.test_client()
    assert problem(stranger.post(order_url(order["number"], "cancel")), 404)["code"] == "not_found"
    assert body(client.get(order_url(order["number"])))["status"] == "new"
    key = key_of(app, order["number"])
    response = stranger.post(order_url(order["number"], "cancel") + f"?key={key}")
    assert body(response)["status"] == "cancelled"


def test_lines_outlive_their_product(app: Flask, client, lamp, buy) -> None:
    order = buy(client, 1)
    assert client.delete(f"/api/products/{lamp['id']}/", headers=AUTH).status_code == 204
    line = body(client.get(order_url(order["number"])))["items"][0]
    assert line == {
        "product_id": None,
        "name": "Лампа",
        "unit_price": 1200,
        "quantity": 1,
        "line_total": 1200,
    }
    # Cancelling an order whose product is gone returns nothing, and fails nothing.
    assert body(client.post(order_url(order["number"], "cancel")))["status"] == "cancelled"
