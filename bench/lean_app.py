"""The lean baseline (issue 13): a minimal Flask app with the obvious SQL, written by hand.

What an outside run compares the shop with: the same gunicorn (gunicorn.conf.py), the same
database, a minimal Flask app with one psycopg connection per thread (`threading.local`,
autocommit for reads: no BEGIN/ROLLBACK round trips) and the SQL one would write for each
request, answering the same JSON keys as the app (simplejson, Decimal as a number). No
validation, ORM, session, CSRF, CORS, ETag, cache or middleware. Unlike bench/bare_app.py
(which replays the statements the app sends), nothing here comes from the app's SQL: the
ratio app/lean shows everything the app's code costs, the SQL it chose included.

- `GET /api/products/<id>/`: one `SELECT … JOIN categories WHERE p.id = %s`; 404 when none.
- `GET /api/products/?category=&min_price=&max_price=&sort=&offset=`: the page (`ORDER BY`
  the sort's column, then id, `LIMIT 20 OFFSET`), and only when the page is full (or empty past
  the first) the count, capped at COUNT_CAP + 1 (`SELECT count(*) FROM (SELECT 1 … LIMIT
  10 001)`). The category's slug -> id is read once at start (the app remembers it too).
- `POST /api/cart/` `{product_id, quantity}`: one transaction: upsert the cart by the plain
  `bench_cart` cookie's token (`RETURNING id`), upsert the line adding the quantity (at most
  MAX_LINE_QUANTITY: past it no row comes back, a 422), read the cart's lines with their
  products; 201 and the cart.
- `GET /api/cart/`: the lines of the cart of that token with their products, one SELECT.
- `GET /?category=&page=`: the list's SQL (name order) rendered by one plain Jinja template
  (the categories, read once at start, as links; the products; previous/next).

Search, deep-page, account and checkout have no lean version: the harness measures them
against bench/bare_app.py only (see bench/README.md).

    BENCH_LEAN_DSN=postgresql://... \
        gunicorn --config gunicorn.conf.py --bind 127.0.0.1:8002 bench.lean_app:app
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from typing import Any

import psycopg
import simplejson
from flask import Flask, Response, request
from jinja2 import Environment

DSN = os.environ["BENCH_LEAN_DSN"]
COUNT_CAP = int(os.environ.get("BENCH_LEAN_COUNT_CAP", "10000"))
CURRENCY = os.environ.get("BENCH_LEAN_CURRENCY", "RUB")
MAX_QUANTITY = int(os.environ.get("BENCH_LEAN_MAX_QUANTITY", "99"))
LIMIT = 20
# The app's session settings (storefront/__init__.py).
OPTIONS = "-c statement_timeout=5000 -c lock_timeout=5000 -c jit=off"
OPTIONS += " -c max_parallel_workers_per_gather=0"

_local = threading.local()


def connection() -> psycopg.Connection:
    """This thread's connection (autocommit: a read is one round trip), made on first use."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DSN, autocommit=True, options=OPTIONS)
    return conn


with psycopg.connect(DSN, options=OPTIONS) as _conn:
    CATEGORIES = _conn.execute(
        "SELECT name, slug, id FROM categories WHERE product_count > 0 ORDER BY name_key, id"
    ).fetchall()
    CATEGORY_IDS = dict(_conn.execute("SELECT slug, id FROM categories").fetchall())

COLUMNS = "p.id, p.name, p.description, p.price, p.image, c.name, p.stock"
FROM = "FROM products p JOIN categories c ON c.id = p.category_id"
DETAIL = f"SELECT {COLUMNS} {FROM} WHERE p.id = %s"
ORDERS = {
    "price": "p.price, p.id",
    "-price": "p.price DESC, p.id",
    "name": "p.name_key, p.id",
    "-name": "p.name_key DESC, p.id",
    "newest": "p.created_at DESC, p.id DESC",
}
UPSERT_CART = (
    "INSERT INTO carts (token) VALUES (%s) "
    "ON CONFLICT (token) DO UPDATE SET updated_at = CURRENT_TIMESTAMP RETURNING id"
)
UPSERT_LINE = (
    "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (%s, %s, %s) "
    "ON CONFLICT (cart_id, product_id) DO UPDATE "
    "SET quantity = cart_items.quantity + excluded.quantity "
    "WHERE cart_items.quantity + excluded.quantity <= %s RETURNING id"
)
LINE_COLUMNS = f"i.id, i.quantity, {COLUMNS}"
LINES_BY_CART = (
    f"SELECT {LINE_COLUMNS} FROM cart_items i JOIN products p ON p.id = i.product_id"
    " JOIN categories c ON c.id = p.category_id WHERE i.cart_id = %s ORDER BY i.id"
)
LINES_BY_TOKEN = (
    f"SELECT {LINE_COLUMNS} FROM cart_items i JOIN carts k ON k.id = i.cart_id"
    " JOIN products p ON p.id = i.product_id JOIN categories c ON c.id = p.category_id"
    " WHERE k.token = %s ORDER BY i.id"
)

app = Flask(__name__)


def plain(value: Decimal) -> Decimal:
    """Money as the app writes it: no trailing zeros, no exponent."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal


def product(row: tuple | list) -> dict[str, Any]:
    """The contract's Product from (id, name, description, price, image, category, stock)."""
    pid, name, description, price, image, category, stock = row
    return {
        "id": pid,
        "name": name,
        "description": description,
        "price": plain(price),
        "image": image,
        "category": category,
        "stock": stock,
    }


def json_response(body: Any, status: int = 200) -> Response:
    text = simplejson.dumps(body, use_decimal=True, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status, mimetype="application/json")


def problem(status: int, detail: str) -> Response:
    body = simplejson.dumps({"status": status, "detail": detail}, ensure_ascii=False)
    return Response(body, status, mimetype="application/problem+json")


def product_page(args, sort_default: str, offset: int) -> dict[str, Any] | None:
    """One page of the list and its total; None for an unknown category."""
    where, params = [], []
    slug = args.get("category")
    if slug:
        category_id = CATEGORY_IDS.get(slug)
        if category_id is None:
            return None
        where.append("p.category_id = %s")
        params.append(category_id)
    if args.get("min_price"):
        where.append("p.price >= %s")
        params.append(Decimal(args["min_price"]))
    if args.get("max_price"):
        where.append("p.price <= %s")
        params.append(Decimal(args["max_price"]))
    condition = (" WHERE " + " AND ".join(where)) if where else ""
    order = ORDERS.get(args.get("sort") or sort_default, ORDERS["name"])
    conn = connection()
    rows = conn.execute(
        f"SELECT {COLUMNS} {FROM}{condition} ORDER BY {order} LIMIT {LIMIT} OFFSET %s",
        [*params, offset],
    ).fetchall()
    if len(rows) == LIMIT or (not rows and offset > 0):
        total = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM products p{condition} LIMIT %s) s",
            [*params, COUNT_CAP + 1],
        ).fetchone()[0]
    else:
        total = offset + len(rows)
    return {"rows": rows, "total": min(total, COUNT_CAP), "exact": total <= COUNT_CAP}


def cart_json(lines: list[tuple]) -> dict[str, Any]:
    items, quantity, price = [], 0, Decimal(0)
    for line_id, count, *columns in lines:
        line_total = columns[3] * count
        stock = columns[6]
        items.append(
            {
                "id": line_id,
                "product": product(columns),
                "quantity": count,
                "line_total": plain(line_total),
                "available": stock is None or stock >= count,
            }
        )
        quantity += count
        price += line_total
    return {
        "items": items,
        "total_quantity": quantity,
        "total_price": plain(price),
        "currency": CURRENCY,
    }


@app.get("/healthz")
def healthz() -> Response:
    """Up."""
    return Response("ok")


@app.get("/api/products/<int:product_id>/")
def detail(product_id: int) -> Response:
    """One product."""
    row = connection().execute(DETAIL, (product_id,)).fetchone()
    if row is None:
        return problem(404, f"There is no product {product_id}.")
    return json_response(product(row))


@app.get("/api/products/")
def product_list() -> Response:
    """A filtered, sorted page of products."""
    offset = int(request.args.get("offset") or 0)
    page = product_page(request.args, "name", offset)
    if page is None:
        page = {"rows": [], "total": 0, "exact": True}
    return json_response(
        {
            "items": [product(row) for row in page["rows"]],
            "total": page["total"],
            "total_exact": page["exact"],
            "limit": LIMIT,
            "offset": offset,
        }
    )


@app.post("/api/cart/")
def cart_add() -> Response:
    """Add to the cart of the `bench_cart` token, in one transaction; the whole cart back."""
    data = simplejson.loads(request.get_data())
    token = request.cookies.get("bench_cart", "")
    conn = connection()
    try:
        with conn.transaction():
            cart_id = conn.execute(UPSERT_CART, (token,)).fetchone()[0]
            added = conn.execute(
                UPSERT_LINE, (cart_id, data["product_id"], data.get("quantity", 1), MAX_QUANTITY)
            ).fetchone()
            if added is None:
                return problem(422, f"A line holds at most {MAX_QUANTITY}.")
            lines = conn.execute(LINES_BY_CART, (cart_id,)).fetchall()
    except psycopg.errors.ForeignKeyViolation:
        return problem(404, f"There is no product {data['product_id']}.")
    return json_response(cart_json(lines), 201)


@app.get("/api/cart/")
def cart_get() -> Response:
    """The cart of the `bench_cart` token (empty when there is none)."""
    token = request.cookies.get("bench_cart", "")
    return json_response(cart_json(connection().execute(LINES_BY_TOKEN, (token,)).fetchall()))


PAGE = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>{{ title }} — Storefront</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><header><a href="/">Storefront</a></header>
<nav><ul>{% for name, slug, _ in categories %}<li><a href="/?category={{ slug }}"
{%- if slug == current %} aria-current="page"{% endif %}>{{ name }}</a></li>{% endfor %}</ul></nav>
<main><h1>{{ title }}</h1><p>Найдено товаров: {{ total }}{% if not exact %}+{% endif %}</p>
<ul class="product-grid">
{%- for id, name, description, price, image, category, stock in rows %}
<li class="product-card"><a href="/products/{{ id }}">{% if image %}<img src="{{ image }}" alt="">
{%- endif %}</a><p class="card-category">{{ category }}</p>
<h2><a href="/products/{{ id }}">{{ name }}</a></h2><p class="price">{{ price }} ₽</p>
{% if stock == 0 %}<p>Нет в наличии</p>{% endif %}
<form method="post" action="/cart/add"><input type="hidden" name="product_id" value="{{ id }}">
<button type="submit"{% if stock == 0 %} disabled{% endif %}>В корзину</button></form></li>
{%- endfor %}
</ul>
<nav class="pager">{% if page > 1 -%}
<a rel="prev" href="/?category={{ current }}&page={{ page - 1 }}">← Назад</a>{% endif %}
<span>{{ page }}</span>
{% if page * limit < total -%}
<a rel="next" href="/?category={{ current }}&page={{ page + 1 }}">Вперёд →</a>{% endif %}</nav>
</main></body></html>
"""
)


@app.get("/")
def catalog_page() -> Response:
    """The catalog's HTML page: the list's SQL (name order), one plain template."""
    number = int(request.args.get("page") or 1)
    page = product_page(request.args, "name", (number - 1) * LIMIT)
    if page is None:
        page = {"rows": [], "total": 0, "exact": True}
    slug = request.args.get("category", "")
    title = next((name for name, s, _ in CATEGORIES if s == slug), "Каталог")
    html = PAGE.render(
        title=title,
        categories=CATEGORIES,
        current=slug,
        rows=page["rows"],
        total=page["total"],
        exact=page["exact"],
        page=number,
        limit=LIMIT,
    )
    return Response(html, mimetype="text/html")
