"""Parallel cart writes against a real gunicorn on PostgreSQL: nothing is lost, limits hold."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import empty_tables
from tests.live_server import free_port, live_process

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
# Production refuses a key that reads like a placeholder, so this one is random per run.
SECRET_KEY = secrets.token_urlsafe(48)
ADMIN_TOKEN = "live-test-admin-token-0123456789"
COOKIE = "storefront_session"
TIMEOUT = 10  # seconds, for every request and every wait on other threads
PARALLEL = 50


@dataclass(frozen=True)
class Reply:
    """What a request got back."""

    status: int
    body: Any
    cookie: str | None


def _cookie_value(set_cookie: str | None) -> str | None:
    if not set_cookie or not set_cookie.startswith(f"{COOKIE}="):
        return None
    return set_cookie.split(";", 1)[0].partition("=")[2]


def send(
    port: int,
    method: str,
    path: str,
    data: Any = None,
    *,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    barrier: threading.Barrier | None = None,
) -> Reply:
    """One HTTP request on its own connection; with `barrier`, sent once all are connected."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
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
            barrier.wait(timeout=TIMEOUT)
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        return Reply(
            response.status,
            json.loads(raw) if raw else None,
            _cookie_value(response.getheader("Set-Cookie")),
        )
    finally:
        connection.close()


def in_parallel(count: int, port: int, data: dict[str, int], cookie: str) -> list[Reply]:
    """`count` adds to the cart with one cookie, released together."""
    barrier = threading.Barrier(count)
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = [
            pool.submit(send, port, "POST", "/api/cart/", data, cookie=cookie, barrier=barrier)
            for _ in range(count)
        ]
        return [future.result(timeout=3 * TIMEOUT) for future in futures]


def cart_lines(port: int, cookie: str) -> dict[int, int]:
    """The session's cart as {product id: quantity}."""
    reply = send(port, "GET", "/api/cart/", cookie=cookie)
    assert reply.status == 200
    return {item["product"]["id"]: item["quantity"] for item in reply.body["items"]}


def signed_cookie(session: dict[str, Any]) -> str:
    """A session cookie as the server would sign it (same SECRET_KEY)."""
    signer = Flask("live-cookie-signer")
    signer.secret_key = SECRET_KEY
    return SecureCookieSessionInterface().get_signing_serializer(signer).dumps(session)


def cart_token(cookie: str) -> str:
    """The cart token a signed session cookie carries."""
    signer = Flask("live-cookie-signer")
    signer.secret_key = SECRET_KEY
    return SecureCookieSessionInterface().get_signing_serializer(signer).loads(cookie)["cart"]


@pytest.fixture(scope="module")
def postgres(database_url: str) -> str:
    """The migrated PostgreSQL database (these tests need real row locks)."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL only")
    return database_url


@pytest.fixture(scope="module")
def server(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A production-mode gunicorn on a free local port; its port. Always stopped afterwards."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "DATABASE_URL": postgres,
        "SECRET_KEY": SECRET_KEY,
        "STOREFRONT_ENV": "production",
        "STOREFRONT_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    command = [GUNICORN, "-k", "gthread", "-w", "4", "--threads", "4"]
    command += ["-b", f"127.0.0.1:{port}", "wsgi:app"]
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with live_process(command, env, log_path, lambda: send(port, "GET", "/healthz").status == 200):
        yield port


@pytest.fixture
def port(server: int, postgres: str) -> Iterator[int]:
    """The live server's port, over an empty database that is emptied again afterwards."""
    empty_tables(postgres)
    yield server
    empty_tables(postgres)


@pytest.fixture
def products(port: int) -> list[int]:
    """Ids of two products made through the admin API over HTTP."""
    items = [
        {"name": "Ручка", "price": "49.90", "category": "Канцелярия"},
        {"name": "Блокнот", "price": "120", "category": "Канцелярия"},
    ]
    reply = send(
        port,
        "POST",
        "/api/products/bulk",
        items,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert reply.status == 201, reply.body
    return [product["id"] for product in reply.body]


def scalar(url: str, statement: str, **params: Any) -> Any:
    """One value selected straight from the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(statement), params).scalar()
    finally:
        engine.dispose()


def test_parallel_adds_lose_nothing(port: int, products: list[int]) -> None:
    """50 simultaneous adds of 1 in one session: all 201, and the line holds exactly 50."""
    pen, notebook = products
    first = send(port, "POST", "/api/cart/", {"product_id": notebook})
    assert first.status == 201 and first.cookie
    replies = in_parallel(PARALLEL, port, {"product_id": pen, "quantity": 1}, first.cookie)
    assert Counter(reply.status for reply in replies) == {201: PARALLEL}
    assert cart_lines(port, first.cookie) == {notebook: 1, pen: PARALLEL}


def test_parallel_first_adds_make_one_cart(port: int, products: list[int], postgres: str) -> None:
    """50 simultaneous first adds of a new session's token make one cart, quantity 50."""
    token = secrets.token_urlsafe(24)
    cookie = signed_cookie({"cart": token, "_permanent": True})
    assert scalar(postgres, "SELECT count(*) FROM carts") == 0
    replies = in_parallel(PARALLEL, port, {"product_id": products[0]}, cookie)
    assert Counter(reply.status for reply in replies) == {201: PARALLEL}
    # A cookie signed moments ago is not re-sent (its lifetime restarts once a day); any
    # cookie that does come back must still name the one cart.
    assert {cart_token(reply.cookie) for reply in replies if reply.cookie} <= {token}
    assert scalar(postgres, "SELECT count(*) FROM carts") == 1
    assert scalar(postgres, "SELECT count(*) FROM carts WHERE token = :t", t=token) == 1
    quantity = (
        "SELECT i.quantity FROM cart_items i JOIN carts c ON c.id = i.cart_id WHERE token = :t"
    )
    assert scalar(postgres, quantity, t=token) == PARALLEL
    assert cart_lines(port, cookie) == {products[0]: PARALLEL}


def test_parallel_adds_stop_at_99(port: int, products: list[int]) -> None:
    """With 90 in a line, 20 simultaneous adds of 1: exactly 9 pass, 11 get 422, 99 remain."""
    first = send(port, "POST", "/api/cart/", {"product_id": products[0], "quantity": 90})
    assert first.status == 201 and first.cookie
    replies = in_parallel(20, port, {"product_id": products[0], "quantity": 1}, first.cookie)
    assert Counter(reply.status for reply in replies) == {201: 9, 422: 11}
    for reply in replies:
        if reply.status == 422:
            assert ["body", "quantity"] in [error["loc"] for error in reply.body["errors"]]
    assert cart_lines(port, first.cookie) == {products[0]: 99}
