"""Cookie sessions for the cart scenarios, made as a shopper makes them: by adding to a cart;
and for checkouts, one per order, made straight in the database (see `CheckoutSessions`)."""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from random import Random

import psycopg
import simplejson

from storefront.accounts import digest
from storefront.money import plain
from storefront.orders import email_key

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


# --- Checkout sessions -----------------------------------------------------------------------
# A checkout empties its cart, so each one needs a session of its own: thousands a run, too many
# to make through the app as the other sessions are. They are made the way the app makes them,
# without the HTTP: a cart row and its line written in the database, and the session cookie
# signed with the app's own session serializer (`{"cart": token, "_permanent": true}`, what a
# first POST /api/cart/ sets). The capture checks a few through the app first.

CHECKOUT_PATH = "/api/checkout/"
# Stock of the tracked products the carts hold: what a whole run takes never gets near it.
TRACKED_STOCK = 1_000_000_000
# Contact details of every bench order (within the contract's limits).
CONTACT = {"name": "Покупатель Бенчмарков", "phone": "+7 900 000-00-00"}
ADDRESS = "Москва, ул. Тестовая, д. 1, кв. 1"
# (delivery, payment) of the orders, drawn at random: both delivery fees, both mails' texts.
WAYS = [
    ("pickup", "on_delivery"),
    ("courier", "on_delivery"),
    ("pickup", "invoice"),
    ("courier", "invoice"),
]


@dataclass(frozen=True)
class CheckoutProduct:
    """A product the checkout carts hold; `tracked`: its stock is counted (and taken)."""

    id: int
    price: Decimal
    tracked: bool


def checkout_products(dsn: str, ids: list[int], tracked: int) -> list[CheckoutProduct]:
    """`ids` made fit for any number of checkouts: the first `tracked` of them get a stock
    of TRACKED_STOCK (taken by each order), the rest untracked stock (never runs out).

    Written in one transaction that bumps the catalog version first, as the app's own writes do,
    so no worker keeps a cached figure (an in-stock count) from before.
    """
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE catalog_version SET version = version + 1")
        conn.execute(
            "UPDATE products SET stock = CASE WHEN id = ANY(%s) THEN %s END WHERE id = ANY(%s)",
            (ids[:tracked], TRACKED_STOCK, ids),
        )
        prices = dict(conn.execute("SELECT id, price FROM products WHERE id = ANY(%s)", (ids,)))
    return [CheckoutProduct(pid, prices[pid], n < tracked) for n, pid in enumerate(ids)]


@dataclass
class CheckoutSessions:
    """Makes sessions whose cart holds one product (one unit), with the checkout that orders it.

    `sign` turns a cart token into the app's signed session cookie; `fee(method, subtotal)` is
    the delivery fee, so that each body's `expected_total` is right.
    """

    dsn: str
    sign: Callable[[str], str]
    products: list[CheckoutProduct]
    fee: Callable[[str, Decimal], Decimal]
    rng: Random
    made: list[str] = field(default_factory=list)

    def make(
        self, count: int, products: list[CheckoutProduct] | None = None
    ) -> list[tuple[str, str]]:
        """`count` new sessions with a filled cart: [(Cookie header, checkout body)].

        Each cart holds one unit of a product drawn at random (or `products[n]`).
        """
        picks = products or [self.rng.choice(self.products) for _ in range(count)]
        cart_tokens = [secrets.token_urlsafe(24) for _ in range(count)]
        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "INSERT INTO carts (token) SELECT unnest(%s::text[])",
                (cart_tokens,),
            )
            conn.execute(
                "INSERT INTO cart_items (cart_id, product_id, quantity) "
                "SELECT c.id, l.product_id, 1 FROM unnest(%s::text[], %s::int[]) "
                "AS l(token, product_id) JOIN carts c ON c.token = l.token",
                (cart_tokens, [product.id for product in picks]),
            )
        self.made += cart_tokens
        sessions = []
        for token, product in zip(cart_tokens, picks, strict=True):
            delivery, payment = self.rng.choice(WAYS)
            total = product.price + self.fee(delivery, product.price)
            body = {
                "email": f"bench-{token[:8].lower()}@example.com",
                **CONTACT,
                "delivery": {
                    "method": delivery,
                    "address": ADDRESS if delivery == "courier" else None,
                },
                "payment": payment,
                "comment": "",
                # As a frontend sends it back: the number it was shown (2599, 2599.5).
                "expected_total": plain(total),
            }
            cookie = f"{COOKIE}={self.sign(token)}; {BARE_COOKIE}={token}"
            sessions.append((cookie, simplejson.dumps(body, use_decimal=True, ensure_ascii=False)))
        return sessions

    def drop(self) -> None:
        """Delete every cart made so far (used or not): a run leaves no filled carts behind."""
        drop_carts(self.dsn, self.made)
        self.made = []


def drop_carts(dsn: str, cart_tokens: list[str]) -> None:
    """Delete these carts and their lines (orders placed from them stay)."""
    if cart_tokens:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM carts WHERE token = ANY(%s)", (cart_tokens,))


def once_line(cookie: str, body: str) -> str:
    """A checkout as a pool line that wrk sends once (bench/lua/pool.lua's "!" method)."""
    return "\t".join(("!POST", CHECKOUT_PATH, cookie, body))


def last_order_id(dsn: str) -> int:
    """The newest order's id (0 when there is none)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()[0]


def orders_since(dsn: str, last_id: int) -> int:
    """How many orders were placed after the one with id `last_id`."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM orders WHERE id > %s", (last_id,)).fetchone()[0]


# --- Signed-in sessions ----------------------------------------------------------------------
# What a sign-in leaves (storefront/session_account.py, storefront/accounts.py), made straight in
# the database as the checkout sessions are: a customer (one argon2 hash for all, computed once:
# nobody signs in with it), their empty cart (`merge_guest_cart` makes one at every sign-in), a
# `sign_ins` row keyed by the SHA-256 of a random token at the customer's session_version; and the
# session cookie signed with the app's serializer, holding what `sign_in` puts there: Flask-Login's
# `_user_id` (`<customer id>:<token>`), `_fresh` and `_id`, and `_permanent`. The bare baseline
# reads `<customer id>:<token>` from a plain cookie of its own.

ACCOUNT_PATH = "/api/account/"
BARE_ACCOUNT_COOKIE = "bench_account"


@dataclass(frozen=True)
class AccountSession:
    """A signed-in session: its customer, its sign-in token, the Cookie header of its requests."""

    customer_id: int
    email: str
    token: str
    cookie: str


def make_account_sessions(
    dsn: str, sign: Callable[[str], str], count: int, password_hash: str
) -> list[AccountSession]:
    """`count` customers, each signed in once, written in one transaction.

    `sign` turns a Flask-Login user id into the app's signed session cookie. The emails carry a
    random tag of this run, so runs on one database (`BENCH_DATABASE_URL`) never collide.
    """
    tag = secrets.token_hex(4)
    emails = [f"bench-{tag}-{number}@example.com" for number in range(count)]
    sign_in_tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "INSERT INTO customers (email, email_key, password_hash, name, phone, address) "
            "SELECT e, k, %s, %s, %s, %s FROM unnest(%s::text[], %s::text[]) AS n(e, k) "
            "RETURNING id, email",
            (
                password_hash,
                CONTACT["name"],
                CONTACT["phone"],
                ADDRESS,
                emails,
                [email_key(email) for email in emails],
            ),
        ).fetchall()
        ids = {email: customer_id for customer_id, email in rows}
        customer_ids = [ids[email] for email in emails]
        conn.execute(
            "INSERT INTO carts (token, customer_id) SELECT * FROM unnest(%s::text[], %s::int[])",
            ([secrets.token_urlsafe(24) for _ in range(count)], customer_ids),
        )
        conn.execute(
            "INSERT INTO sign_ins (token_hash, customer_id, session_version) "
            "SELECT s.token_hash, c.id, c.session_version "
            "FROM unnest(%s::text[], %s::int[]) AS s(token_hash, customer_id) "
            "JOIN customers c ON c.id = s.customer_id",
            ([digest(token) for token in sign_in_tokens], customer_ids),
        )
    sessions = []
    for customer_id, email, token in zip(customer_ids, emails, sign_in_tokens, strict=True):
        user_id = f"{customer_id}:{token}"
        cookie = f"{COOKIE}={sign(user_id)}; {BARE_ACCOUNT_COOKIE}={user_id}"
        sessions.append(AccountSession(customer_id, email, token, cookie))
    return sessions


def drop_customers(dsn: str, customer_ids: list[int]) -> None:
    """Delete these customers; their sign-ins and carts go with them (ON DELETE CASCADE)."""
    if customer_ids:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM customers WHERE id = ANY(%s)", (customer_ids,))
