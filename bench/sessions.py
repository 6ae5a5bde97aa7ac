"""Cookie sessions for the cart scenarios, made as a shopper makes them: by adding to a cart."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from random import Random

import psycopg

COOKIE = "storefront_session"
# The bare baseline has no sessions: it reads the cart token from a plain cookie of its own.
BARE_COOKIE = "bench_cart"


def _add(connection: http.client.HTTPConnection, product_id: int, cookie: str | None) -> str | None:
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    body = json.dumps({"product_id": product_id, "quantity": 1})
    connection.request("POST", "/api/cart/", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != 201:
        raise RuntimeError(f"prelude: POST /api/cart/ answered {response.status}")
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith(f"{COOKIE}="):
            return value.split(";", 1)[0].partition("=")[2]
    return cookie


def make_sessions(
    port: int,
    prefix: str,
    count: int,
    products: list[int],
    lines: int,
    token_of: Callable[[str], str],
    rng: Random,
) -> dict[str, str]:
    """`count` sessions named `prefix:N`, each with `lines` distinct products in its cart.

    Returns each session's Cookie header: the app's signed session cookie, and the cart token
    in the clear for the bare baseline.
    """
    choices = [rng.sample(products, lines) for _ in range(count)]

    def one(picked: list[int]) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            cookie = None
            for product_id in picked:
                cookie = _add(connection, product_id, cookie)
        finally:
            connection.close()
        if cookie is None:
            raise RuntimeError("prelude: the app set no session cookie")
        return f"{COOKIE}={cookie}; {BARE_COOKIE}={token_of(cookie)}"

    with ThreadPoolExecutor(8) as pool:
        cookies = list(pool.map(one, choices))
    return {f"{prefix}:{number}": cookie for number, cookie in enumerate(cookies)}


def cart_token(cookie_header: str) -> str:
    """The cart token of a session's Cookie header (as `make_sessions` wrote it)."""
    return cookie_header.rpartition(f"{BARE_COOKIE}=")[2]


def tokens(cookies: dict[str, str], prefix: str) -> list[str]:
    """The cart tokens of the sessions whose names start with `prefix`."""
    return [cart_token(cookie) for name, cookie in cookies.items() if name.startswith(f"{prefix}:")]


def empty_carts(dsn: str, cart_tokens: list[str]) -> None:
    """Remove every line of these carts (the carts and the sessions stay valid)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "DELETE FROM cart_items WHERE cart_id IN (SELECT id FROM carts WHERE token = ANY(%s))",
            (cart_tokens,),
        )


def total_quantity(dsn: str, cart_tokens: list[str]) -> int:
    """How many items these carts hold altogether."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(i.quantity), 0) FROM cart_items i "
            "JOIN carts c ON c.id = i.cart_id WHERE c.token = ANY(%s)",
            (cart_tokens,),
        ).fetchone()
    return int(row[0])


def raw_carts(dsn: str, base: int, count: int, lines: list[list[int]] | None = None) -> None:
    """Carts for pgbench alone, tokens `base` .. `base + count - 1` written as numbers.

    pgbench variables are numbers, not strings; a numeric token lets a script pick a random
    cart with `\\set` and bind it as the app binds a token, with no extra statement. With
    `lines`, cart N holds exactly the products of lines[N] (one each).
    """
    cart_tokens = [str(base + number) for number in range(count)]
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO carts (token) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
            (cart_tokens,),
        )
        conn.execute(
            "DELETE FROM cart_items WHERE cart_id IN (SELECT id FROM carts WHERE token = ANY(%s))",
            (cart_tokens,),
        )
        if lines:
            conn.execute(
                "INSERT INTO cart_items (cart_id, product_id, quantity) "
                "SELECT c.id, l.product_id, 1 FROM unnest(%s::text[], %s::int[]) "
                "AS l(token, product_id) JOIN carts c ON c.token = l.token",
                (
                    [t for t, products in zip(cart_tokens, lines, strict=True) for _ in products],
                    [product for products in lines for product in products],
                ),
            )
