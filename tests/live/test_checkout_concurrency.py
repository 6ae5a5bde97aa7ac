"""Checkouts racing each other through a real gunicorn (gunicorn.conf.py: 2 gthread workers x 4
threads) on PostgreSQL: the contract's "Two checkouts racing for the last unit", "Two parallel
checkouts of one cart place one order" and the `Idempotency-Key` rules, under real row locks.

Each request opens its connection first and is sent when all of them are connected (a
barrier), so they reach the server together. Each test repeats its race CHECKOUT_ROUNDS times
(default 5; more to shake out rarer interleavings).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.conftest import empty_tables
from tests.live.instances import COOKIE, TIMEOUT, Instance, Shopper, serving
from tests.live_server import free_port

pytestmark = [pytest.mark.live, pytest.mark.timeout(600)]

ROUNDS = int(os.environ.get("CHECKOUT_ROUNDS", "5"))
SHOPPERS, UNITS = 20, 5
REPEATS = 10
PRICE = 250


@dataclass(frozen=True)
class Answer:
    """What a request got back, with the body's exact bytes."""

    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.raw)


def send(
    port: int,
    method: str,
    path: str,
    data: Any = None,
    *,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    barrier: threading.Barrier | None = None,
) -> Answer:
    """One request on its own connection; with `barrier`, sent once every party is connected."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3 * TIMEOUT)
    try:
        sent = dict(headers or {})
        payload = None
        if data is not None:
            payload = json.dumps(data).encode()
            sent["Content-Type"] = "application/json"
        if cookie:
            sent["Cookie"] = f"{COOKIE}={cookie}"
        connection.connect()
        if barrier is not None:
            barrier.wait(timeout=3 * TIMEOUT)
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)
    finally:
        connection.close()


def together(calls: list[Callable[[threading.Barrier], Answer]]) -> list[Answer]:
    """Run each call in its own thread, all released by one barrier; answers in call order."""
    barrier = threading.Barrier(len(calls))
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call, barrier) for call in calls]
        return [future.result(timeout=6 * TIMEOUT) for future in futures]


def order_body(total: int) -> dict[str, Any]:
    """A valid checkout body (pickup: no fee) agreeing to `total`."""
    return {
        "email": "racer@example.ru",
        "name": "Гонщик",
        "phone": "+7 900 000-00-00",
        "delivery": {"method": "pickup", "address": None},
        "payment": "on_delivery",
        "expected_total": total,
    }


def checkout(
    port: int, shopper: Shopper, total: int, key: str | None = None
) -> Callable[[threading.Barrier], Answer]:
    """A checkout of `shopper`'s cart, to be sent by `together`."""
    headers = {"Idempotency-Key": key} if key else None
    return lambda barrier: send(
        port,
        "POST",
        "/api/checkout/",
        order_body(total),
        cookie=shopper.cookie,
        headers=headers,
        barrier=barrier,
    )


@pytest.fixture(scope="module")
def server(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """One instance as production runs it: 2 gthread workers x 4 threads."""
    log = tmp_path_factory.mktemp("checkout-races") / "gunicorn.log"
    with serving(postgres, free_port(), log, workers=2) as instance:
        yield instance


@pytest.fixture(scope="module")
def engine(postgres: str) -> Iterator[Engine]:
    """A connection pool of the test's own, to look at the rows."""
    engine = create_engine(postgres)
    yield engine
    engine.dispose()


@pytest.fixture
def port(server: Instance, postgres: str) -> Iterator[int]:
    """The server's port, over an empty database that is emptied again afterwards."""
    empty_tables(postgres)
    yield server.port
    empty_tables(postgres)


def query(engine: Engine, statement: str, **params: Any) -> list[Any]:
    """Every row `statement` selects."""
    with engine.connect() as connection:
        return list(connection.execute(text(statement), params))


def value(engine: Engine, statement: str, **params: Any) -> Any:
    """The one value `statement` selects."""
    return query(engine, statement, **params)[0][0]


def new_product(port: int, stock: int | None) -> int:
    """A product at PRICE with `stock`, made through the admin API; its id."""
    name = f"Товар {uuid.uuid4().hex[:8]}"
    data = {"name": name, "price": PRICE, "category": "Гонки", "stock": stock}
    reply = Shopper().send(port, "POST", "/api/products/", data)
    assert reply.status == 201, reply.body
    return reply.body["id"]


def shopper_with(port: int, product_id: int, quantity: int = 1) -> Shopper:
    """A new browser session with `quantity` of the product in its cart."""
    shopper = Shopper()
    data = {"product_id": product_id, "quantity": quantity}
    reply = shopper.send(port, "POST", "/api/cart/", data)
    assert reply.status == 201 and shopper.cookie, reply.body
    return shopper


def cart_of(port: int, shopper: Shopper) -> list[tuple[int, int, int, bool]]:
    """The shopper's cart lines as (item id, product id, quantity, available)."""
    reply = shopper.send(port, "GET", "/api/cart/")
    assert reply.status == 200, reply.body
    return [
        (item["id"], item["product"]["id"], item["quantity"], item["available"])
        for item in reply.body["items"]
    ]


def orders_of(port: int, shopper: Shopper) -> list[dict[str, Any]]:
    """The orders the shopper's session placed."""
    reply = shopper.send(port, "GET", "/api/orders/")
    assert reply.status == 200, reply.body
    return reply.body["items"]


def assert_nothing_half_written(engine: Engine) -> None:
    """Every order has lines and its confirmation; every done key its order."""
    assert (
        value(
            engine,
            "SELECT count(*) FROM orders o "
            "WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)",
        )
        == 0
    )
    assert (
        value(
            engine,
            "SELECT count(*) FROM orders o WHERE NOT EXISTS "
            "(SELECT 1 FROM outbox m WHERE m.order_id = o.id AND m.kind = 'order_placed')",
        )
        == 0
    )
    assert (
        value(
            engine,
            "SELECT count(*) FROM idempotency_keys WHERE state = 'done' AND order_id IS NULL",
        )
        == 0
    )
    assert value(engine, "SELECT count(*) FROM products WHERE stock < 0") == 0


def test_twenty_shoppers_race_for_five_units(port: int, engine: Engine) -> None:
    """20 carts of 1 unit, 5 in stock, all checked out at once: 5 orders, 15 out_of_stock."""
    for round_ in range(ROUNDS):
        product = new_product(port, stock=UNITS)
        shoppers = [shopper_with(port, product) for _ in range(SHOPPERS)]
        carts_before = [cart_of(port, shopper) for shopper in shoppers]
        answers = together([checkout(port, shopper, PRICE) for shopper in shoppers])

        # Nothing else: a stock decrement past 0 would break CHECK (stock >= 0), a 500.
        statuses = Counter(answer.status for answer in answers)
        assert statuses == {201: UNITS, 409: SHOPPERS - UNITS}, (round_, statuses)
        numbers = set()
        for shopper, before, answer in zip(shoppers, carts_before, answers, strict=True):
            ((item_id, _, _, _),) = before
            if answer.status == 201:
                order = answer.json
                numbers.add(order["number"])
                assert [(i["product_id"], i["quantity"]) for i in order["items"]] == [(product, 1)]
                assert cart_of(port, shopper) == []
                assert [o["number"] for o in orders_of(port, shopper)] == [order["number"]]
            else:
                problem = answer.json
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert problem["code"] == "out_of_stock", problem
                assert problem["items"] == [
                    {"item_id": item_id, "product_id": product, "requested": 1, "available": 0}
                ]
                # The refused cart is as it was; its line now says it cannot be had.
                assert cart_of(port, shopper) == [(item_id, product, 1, False)]
                assert orders_of(port, shopper) == []
        assert len(numbers) == UNITS

        assert value(engine, "SELECT stock FROM products WHERE id = :p", p=product) == 0
        lines = query(
            engine,
            "SELECT o.number, l.quantity FROM order_lines l JOIN orders o ON o.id = l.order_id "
            "WHERE l.product_id = :p",
            p=product,
        )
        assert sorted(lines) == sorted((number, 1) for number in numbers)
        assert value(engine, "SELECT count(*) FROM orders") == UNITS * (round_ + 1)
        assert value(engine, "SELECT count(*) FROM order_lines") == UNITS * (round_ + 1)
        assert_nothing_half_written(engine)


def test_one_cart_checked_out_twice_at_once_places_one_order(port: int, engine: Engine) -> None:
    """The same cookie, no key, two checkouts together: one 201, one 409 cart_empty."""
    product = new_product(port, stock=10 * ROUNDS)
    for round_ in range(ROUNDS):
        shopper = shopper_with(port, product, quantity=2)
        answers = together([checkout(port, shopper, 2 * PRICE) for _ in range(2)])

        assert sorted(answer.status for answer in answers) == [201, 409], round_
        placed = next(answer.json for answer in answers if answer.status == 201)
        refused = next(answer.json for answer in answers if answer.status == 409)
        assert refused["code"] == "cart_empty", refused
        assert [o["number"] for o in orders_of(port, shopper)] == [placed["number"]]
        assert cart_of(port, shopper) == []
        stock = value(engine, "SELECT stock FROM products WHERE id = :p", p=product)
        assert stock == 10 * ROUNDS - 2 * (round_ + 1)
        assert value(engine, "SELECT count(*) FROM orders") == round_ + 1
    assert_nothing_half_written(engine)


def test_one_key_sent_ten_times_at_once_places_one_order(port: int, engine: Engine) -> None:
    """The same Idempotency-Key and body 10 times together from one session: one order; each
    other answer is the same 201, byte for byte, or 409 in_progress; a later repeat is the 201."""
    product = new_product(port, stock=3 * ROUNDS)
    for round_ in range(ROUNDS):
        shopper = shopper_with(port, product)
        key = f"race-{uuid.uuid4()}"
        answers = together([checkout(port, shopper, PRICE, key) for _ in range(REPEATS)])

        placed = [answer for answer in answers if answer.status == 201]
        busy = [answer for answer in answers if answer.status != 201]
        assert placed, Counter(answer.status for answer in answers)
        first = placed[0]
        for answer in placed:
            assert answer.raw == first.raw
            assert answer.headers["location"] == first.headers["location"]
        for answer in busy:
            assert answer.status == 409, (answer.status, answer.raw)
            assert answer.json["code"] == "in_progress", answer.json
            assert int(answer.headers["retry-after"]) > 0
        number = first.json["number"]
        assert first.headers["location"] == f"/api/orders/{number}/"
        assert [o["number"] for o in orders_of(port, shopper)] == [number]
        stock = value(engine, "SELECT stock FROM products WHERE id = :p", p=product)
        assert stock == 3 * ROUNDS - (round_ + 1)
        keys = query(
            engine,
            "SELECT k.state, o.number FROM idempotency_keys k "
            "LEFT JOIN orders o ON o.id = k.order_id WHERE k.key = :key",
            key=key,
        )
        assert keys == [("done", number)]

        # Later, with the cart empty: the same answer again, and still one order.
        later = send(
            port,
            "POST",
            "/api/checkout/",
            order_body(PRICE),
            cookie=shopper.cookie,
            headers={"Idempotency-Key": key},
        )
        assert (later.status, later.raw) == (201, first.raw)
        assert later.headers["location"] == first.headers["location"]
        assert value(engine, "SELECT count(*) FROM orders") == round_ + 1
    assert_nothing_half_written(engine)
