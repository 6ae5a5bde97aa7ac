"""The bare baseline: the same URLs and the same SQL as the app, with nothing else in between.

A minimal Flask app, served by gunicorn with the app's own gunicorn.conf.py. For each URL of a
benchmark pool it runs the statements the app sent for that URL (captured by bench/harness.py
into the plan file) through a psycopg connection pool, and answers the rows as JSON (or as a
bare HTML list for pages). No validation, no ORM, no session, no middleware: the difference
between the app and this is what the app's own code costs.

Reads run in autocommit (no BEGIN/ROLLBACK round trips); a cart change runs in one transaction,
as it must. Most URLs are served from templates: their values (category, prices, offset or
page, product id) come from the URL, a category's id from the statement that looked it up, a
cart's token from the plain `bench_cart` cookie, a signed-in customer's id and the SHA-256 of
their sign-in token from the plain `bench_account` cookie (`<customer id>:<token>`), the product
to add from the JSON body; a count runs only after a full page, as in the app (a signed-in
read with no row answers 401, as the app does). Search URLs replay what the app sent for them.

`POST /api/checkout/` is written by hand (an order is more than a template can fill in: its
number, its lines, its mail): the transaction of storefront/checkout.py with the obvious SQL,
statement for statement what the app sends (bench/harness.py prints both lists): lock the
cart row, read its lines with their products locked in id order, check stock and the total,
take tracked stock, insert the order and its lines, empty the cart, queue the mail (a constant
text of the rendered mail's size) and NOTIFY the mail worker, commit; the order as JSON.

    BENCH_BARE_PLAN=plan.json BENCH_BARE_DSN=postgresql://... \
        gunicorn --config gunicorn.conf.py --bind 127.0.0.1:8001 bench.bare_app:app
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import simplejson
from flask import Flask, Response, request
from psycopg import Connection
from psycopg_pool import ConnectionPool

from bench.capture import PAGE_LIMIT, decode, url_shape, url_symbols


@dataclass(frozen=True)
class Symbol:
    """A parameter filled in per request: `token`, `product_id` or `cart_id`."""

    name: str


@dataclass(frozen=True)
class Step:
    """One statement; `binds` names the symbol its first returned value becomes;
    `after_full_page`: a count, run only when the page before it does not tell the total."""

    sql: str
    params: dict[str, Any]
    binds: str | None = None
    after_full_page: bool = False


def _step(raw: dict[str, Any]) -> Step:
    params = {
        name: Symbol(value["$symbol"]) if isinstance(value, dict) and "$symbol" in value else value
        for name, value in ((k, decode(v)) for k, v in raw["params"].items())
    }
    return Step(raw["sql"], params, raw.get("binds"), raw.get("after_full_page", False))


def _load(path: str) -> tuple[dict[str, list[Step]], dict[str, dict[str, Any]]]:
    with open(path, encoding="utf-8") as plan_file:
        plan = json.load(plan_file)
    replay = {url: [_step(s) for s in steps] for url, steps in plan["replay"].items()}
    templates = {
        t["shape"]: {**t, "steps": [_step(s) for s in t["statements"]]}
        for t in plan["templates"].values()
    }
    return replay, templates


REPLAY, TEMPLATES = _load(os.environ["BENCH_BARE_PLAN"])
# As many connections as the worker has threads; the same session settings as the app.
POOL = ConnectionPool(
    os.environ["BENCH_BARE_DSN"],
    min_size=int(os.environ.get("BENCH_BARE_POOL", "4")),
    max_size=int(os.environ.get("BENCH_BARE_POOL", "4")),
    kwargs={
        "autocommit": True,
        "options": "-c statement_timeout=5000 -c lock_timeout=5000 -c jit=off"
        " -c max_parallel_workers_per_gather=0",
    },
    open=True,
)
# Slug -> id once at start, as the app remembers category ids after its first lookup.
with POOL.connection() as _conn:
    CATEGORY_IDS = dict(_conn.execute("SELECT slug, id FROM categories").fetchall())
app = Flask(__name__)


def run(conn: Connection, steps: list[Step], symbols: dict[str, Any]) -> list[list[dict]] | None:
    """Execute `steps` in order; None when a statement that binds a symbol returned nothing."""
    results: list[list[dict]] = []
    for step in steps:
        if step.after_full_page:
            # The app's last-page shortcut: a short page (or an empty first one) is its own count.
            rows = len(results[-1])
            if 0 < rows < PAGE_LIMIT or (rows == 0 and symbols.get("offset", 0) == 0):
                continue
        params = {
            name: symbols[value.name] if isinstance(value, Symbol) else value
            for name, value in step.params.items()
        }
        cursor = conn.execute(step.sql, params)
        if cursor.description is None:
            results.append([])
            continue
        columns = [column.name for column in cursor.description]
        rows = cursor.fetchall()
        if step.binds:
            if not rows:
                return None
            symbols[step.binds] = rows[0][0]
        results.append([dict(zip(columns, row, strict=True)) for row in rows])
    return results


def answer(results: list[list[dict]], status: int = 200, page: bool = False) -> Response:
    """Rows as JSON, or for a page as the barest HTML list of names and prices."""
    if page:
        items = "".join(
            f"<li>{html.escape(str(row.get('name')))} {row.get('price', '')}</li>"
            for rows in results
            for row in rows
            if "name" in row
        )
        return Response(f"<!doctype html><ul>{items}</ul>", status, mimetype="text/html")
    body = json.dumps(results, default=str, ensure_ascii=False)
    return Response(body, status, mimetype="application/json")


@app.route("/healthz")
def healthz() -> Response:
    """Up."""
    return Response("ok")


@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def serve(path: str) -> Response:
    """Fill in the template of this kind of URL, or replay the statements of this very URL."""
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    page = not path.startswith("api/")
    template = TEMPLATES.get(url_shape(request.method, environ["PATH_INFO"], request.args))
    if template is not None:
        symbols = url_symbols(environ["PATH_INFO"], request.args, CATEGORY_IDS)
        symbols["token"] = request.cookies.get("bench_cart", "")
        account = request.cookies.get("bench_account")
        if account:
            # A signed-in request: the app's user loader splits `<customer id>:<token>` and
            # looks the sign-in up by the token's SHA-256.
            customer_id, _, token = account.partition(":")
            symbols["customer_id"] = int(customer_id)
            symbols["token_hash"] = hashlib.sha256(token.encode()).hexdigest()
        if request.method == "POST":
            symbols["product_id"] = json.loads(request.get_data())["product_id"]
        with POOL.connection() as conn:
            if template["transaction"]:
                with conn.transaction():
                    results = run(conn, template["steps"], symbols)
            else:
                results = run(conn, template["steps"], symbols)
        if results is None:
            return answer([], 422)
        if "empty_status" in template and not results[0]:
            return answer([], template["empty_status"])
        return answer(results, template["status"], page=page)
    steps = REPLAY.get(environ["PATH_INFO"] + ("?" + query if query else ""))
    if steps is None:
        return answer([], 404)
    with POOL.connection() as conn:
        results = run(conn, steps, {})
    return answer(results or [], page=page)


# --- Checkout, by hand --------------------------------------------------------------------------

DELIVERY_FEE = Decimal(os.environ.get("BENCH_BARE_DELIVERY_FEE", "300"))
FREE_DELIVERY_FROM = Decimal(os.environ.get("BENCH_BARE_FREE_DELIVERY_FROM", "5000"))
CURRENCY = os.environ.get("BENCH_BARE_CURRENCY", "RUB")
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LOCK_CART = "UPDATE carts SET updated_at = CURRENT_TIMESTAMP WHERE token = %s RETURNING id"
LOCKED_LINES = (
    "SELECT i.id, i.quantity, p.id, p.name, p.price, p.stock FROM cart_items i"
    " JOIN products p ON p.id = i.product_id WHERE i.cart_id = %s"
    " ORDER BY p.id FOR NO KEY UPDATE OF p"
)
TAKE_STOCK = "UPDATE products SET stock = stock - %s WHERE id = %s AND stock >= %s"
INSERT_ORDER = (
    "INSERT INTO orders (number, access_key, status, created_at, updated_at, session_token,"
    " email, email_key, name, phone, delivery_method, address, delivery_fee, payment_method,"
    " comment, subtotal, total, currency, locale)"
    " VALUES (%s, %s, 'new', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'ru')"
    " ON CONFLICT (number) DO NOTHING RETURNING id"
)
INSERT_LINE = (
    "INSERT INTO order_lines (order_id, product_id, name, unit_price, quantity, line_total)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
EMPTY_CART = "DELETE FROM cart_items WHERE cart_id = %s"
QUEUE_MAIL = (
    "INSERT INTO outbox (created_at, kind, recipient, subject, body_text, body_html, message_id,"
    " order_id, attempts, next_attempt_at)"
    " VALUES (%s, 'order_placed', %s, NULL, NULL, NULL, %s, %s, 0, %s)"
)
# As the app's row: the sender renders a new order's mail when it sends it (its subject and
# parts stay NULL here; storefront/mail/messages.py `Later`).


class Refused(Exception):
    """A checkout that cannot go through: rolls the transaction back, answers 409."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _plain(value: Decimal) -> Decimal:
    """As the app writes money: no trailing zeros, no exponent."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal


def _place(conn: Connection, token: str, data: dict[str, Any]) -> dict[str, Any]:
    """The checkout transaction's statements (the caller holds the transaction)."""
    row = conn.execute(LOCK_CART, (token,)).fetchone()
    if row is None:
        raise Refused("cart_empty")
    cart_id = row[0]
    lines = conn.execute(LOCKED_LINES, (cart_id,)).fetchall()
    if not lines:
        raise Refused("cart_empty")
    if any(stock is not None and quantity > stock for _, quantity, _, _, _, stock in lines):
        raise Refused("out_of_stock")
    subtotal = sum((price * quantity for _, quantity, _, _, price, _ in lines), Decimal(0))
    method = data["delivery"]["method"]
    fee = DELIVERY_FEE if method == "courier" and subtotal < FREE_DELIVERY_FROM else Decimal(0)
    if subtotal + fee != data["expected_total"]:
        raise Refused("price_changed")
    tracked = [(q, pid, q) for _, q, pid, _, _, stock in lines if stock is not None]
    if tracked:
        conn.cursor().executemany(TAKE_STOCK, tracked)
    now = datetime.now(UTC)
    address = data["delivery"].get("address") if method == "courier" else None
    while True:
        chars = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
        number = f"{chars[:4]}-{chars[4:]}"
        order = (
            number, secrets.token_urlsafe(24), now, now, token, data["email"],
            data["email"].strip().lower(), data["name"], data["phone"], method, address, fee,
            data["payment"], data.get("comment", ""), subtotal, subtotal + fee, CURRENCY,
        )  # fmt: skip
        row = conn.execute(INSERT_ORDER, order).fetchone()
        if row is not None:
            break
    order_id = row[0]
    items = sorted(lines)  # by cart line id, as the app lists them
    conn.cursor().executemany(
        INSERT_LINE,
        [(order_id, pid, name, price, q, price * q) for _, q, pid, name, price, _ in items],
    )
    conn.execute(EMPTY_CART, (cart_id,))
    conn.execute(
        QUEUE_MAIL,
        (
            now, data["email"], f"<{secrets.token_hex(16)}@storefront.bench>", order_id, now,
        ),
    )  # fmt: skip
    conn.execute("NOTIFY outbox")
    return {
        "number": number,
        "status": "new",
        "created_at": now.isoformat(timespec="seconds"),
        "email": data["email"],
        "name": data["name"],
        "phone": data["phone"],
        "delivery": {"method": method, "address": address, "fee": _plain(fee)},
        "payment": {"method": data["payment"]},
        "comment": data.get("comment", ""),
        "items": [
            {
                "product_id": pid,
                "name": name,
                "unit_price": _plain(price),
                "quantity": q,
                "line_total": _plain(price * q),
            }
            for _, q, pid, name, price, _ in items
        ],
        "subtotal": _plain(subtotal),
        "total": _plain(subtotal + fee),
        "currency": CURRENCY,
    }


@app.post("/api/checkout/")
def checkout() -> Response:
    """The session's cart becomes an order, in one transaction (no validation, no session)."""
    data = simplejson.loads(request.get_data(), use_decimal=True)
    token = request.cookies.get("bench_cart", "")
    try:
        with POOL.connection() as conn, conn.transaction():
            order = _place(conn, token, data)
    except Refused as refused:
        body = simplejson.dumps({"status": 409, "code": refused.code})
        return Response(body, 409, mimetype="application/problem+json")
    body = simplejson.dumps(order, use_decimal=True, ensure_ascii=False, separators=(",", ":"))
    location = f"/api/orders/{order['number']}/"
    return Response(body, 201, {"Location": location}, mimetype="application/json")
