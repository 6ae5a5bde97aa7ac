"""The scenarios of issue 5 and their random requests, drawn from the catalog under test.

Each scenario becomes a pool of requests with random parameters; wrk picks one of them at
random for every request it sends, and the same pool is what the app's SQL is captured from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from random import Random
from urllib.parse import urlencode

import psycopg

from storefront.synthetic import ADJECTIVES

# The deepest page the API serves is offset = COUNT_CAP (10 000 by default).
DEEP_OFFSET = 10_000
PAGE_LIMIT = 20
MAX_PAGE = 50
# Model codes are one of these letters and seven digits (storefront/synthetic.py).
CODE = re.compile(r"\b[A-Z]\d{7}\b")
# Letters no code starts with: a code with its first letter changed to one of these names no
# other product, so the typo matches only through the one-edit path.
TYPO_LETTERS = "ijloquvwy"
# The cart scenarios add to products with untracked stock or at least this many units: a line
# never reaches them (99 at most), so no add is refused as out of stock (the seeded catalog has
# 3 % sold out and 7 % with 1-5 units).
CART_STOCK = 100


@dataclass(frozen=True)
class Request:
    """One request of a pool; `session` names a cookie session made by the prelude."""

    method: str
    path: str
    session: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class Catalog:
    """What the pools are drawn from: a sample of the catalog under test."""

    categories: list[tuple[str, int]]  # (slug, number of products)
    ids: list[int]
    codes: list[str]
    cart_ids: list[int]  # of `ids`, the products a cart can take any number of (CART_STOCK)
    min_price: int
    max_price: int


@dataclass(frozen=True)
class Scenario:
    """A benchmark scenario: how to draw its requests, and which target it is held to."""

    name: str
    target: str
    kind: str  # "read", "cart-get", "cart-add", "account-get" or "checkout"
    request: str  # what it asks, for the report
    draw: Callable[[Catalog, Random], Request]
    # The bare baseline fills a template from each URL; False: it replays the captured SQL of
    # each pool URL (searches: the app computes typo variants, which no template can).
    templated: bool = True
    # The lean baseline (bench/lean_app.py) has a hand-written version of this request.
    lean: bool = False
    # A replayed pool holds this many times BENCH_POOL requests: more distinct requests, so
    # that few repeat within the app's count cache's lifetime (each is captured once).
    pool_factor: int = 1


def sample_catalog(dsn: str, rng: Random, size: int = 20_000) -> Catalog:
    """Categories with their sizes, and random existing products with their model codes."""
    with psycopg.connect(dsn) as conn:
        categories = conn.execute(
            "SELECT c.slug, count(*) FROM products p JOIN categories c ON c.id = p.category_id "
            "GROUP BY c.slug ORDER BY c.slug"
        ).fetchall()
        low, high, min_price, max_price = conn.execute(
            "SELECT min(id), max(id), min(price), max(price) FROM products"
        ).fetchone()
        if low is None:
            raise SystemExit("the catalog is empty: seed it first (flask seed --generate N)")
        wanted = [rng.randint(low, high) for _ in range(size)]
        rows = conn.execute(
            "SELECT id, name, stock FROM products WHERE id = ANY(%s) ORDER BY id", (wanted,)
        ).fetchall()
    codes = [match.group(0) for _, name, _ in rows if (match := CODE.search(name))]
    if not codes:
        raise SystemExit("no model codes in the catalog: the benchmark needs seed --generate")
    return Catalog(
        categories=[(slug, count) for slug, count in categories],
        ids=[product_id for product_id, _, _ in rows],
        codes=codes,
        cart_ids=[
            product_id for product_id, _, stock in rows if stock is None or stock >= CART_STOCK
        ],
        min_price=int(Decimal(min_price)),
        max_price=int(Decimal(max_price)),
    )


def _products(**query: object) -> str:
    return "/api/products/?" + urlencode(query)


def typo(code: str, rng: Random) -> str:
    """`code` one edit away: another first letter, or a letter inserted among the digits."""
    if rng.random() < 0.5:
        return rng.choice(TYPO_LETTERS) + code[1:]
    at = rng.randint(2, len(code) - 1)
    return code[:at] + rng.choice(TYPO_LETTERS) + code[at:]


def _price_range(catalog: Catalog, rng: Random, width: tuple[int, int]) -> tuple[int, int]:
    span = rng.randint(*width)
    low = rng.randint(catalog.min_price, max(catalog.min_price, catalog.max_price - span))
    return low, low + span


def _list_category(catalog: Catalog, rng: Random) -> Request:
    slug, _ = rng.choice(catalog.categories)
    low, high = _price_range(catalog, rng, (2_000, 40_000))
    return Request("GET", _products(category=slug, min_price=low, max_price=high, sort="price"))


def _list_broad(catalog: Catalog, rng: Random) -> Request:
    half = (catalog.max_price - catalog.min_price) // 2
    low, high = _price_range(catalog, rng, (half, half))
    return Request("GET", _products(min_price=low, max_price=high, sort="-price"))


def _deep_page(catalog: Catalog, rng: Random) -> Request:
    slug, count = rng.choice(catalog.categories)
    # On a small catalog (smoke) a category has no 10 000th product: go half way in instead.
    return Request("GET", _products(category=slug, offset=min(DEEP_OFFSET, count // 2)))


def _search_filtered(catalog: Catalog, rng: Random) -> Request:
    """A common word with a random price bound or window, a random category, or both."""
    query: dict[str, object] = {"search": rng.choice(ADJECTIVES)}
    kind = rng.randrange(4)
    if kind == 0:
        # As in issue 13: a lower bound under every price, which removes no match.
        query["min_price"] = f"{rng.uniform(0.01, 99.99):.2f}"
    elif kind == 1:
        query["min_price"], query["max_price"] = _price_range(catalog, rng, (2_000, 40_000))
    else:
        query["category"] = rng.choice(catalog.categories)[0]
        if kind == 3:
            query["min_price"], query["max_price"] = _price_range(catalog, rng, (2_000, 40_000))
    return Request("GET", _products(**query))


def _page_catalog(catalog: Catalog, rng: Random) -> Request:
    slug, count = rng.choice(catalog.categories)
    page = rng.randint(1, max(1, min(MAX_PAGE, count // PAGE_LIMIT)))
    return Request("GET", "/?" + urlencode({"category": slug, "page": page}))


SCENARIOS = [
    Scenario(
        "list-category",
        "list-category",
        "read",
        "`/api/products/?category=<random>&min_price=<r>&max_price=<r+2k..40k>&sort=price`",
        _list_category,
        lean=True,
    ),
    Scenario(
        "list-broad",
        "list-broad",
        "read",
        "`/api/products/?min_price=<r>&max_price=<r+half the price range>&sort=-price`",
        _list_broad,
        lean=True,
    ),
    Scenario(
        "search-common",
        "search-common",
        "read",
        "`/api/products/?search=<one of 24 adjectives, each in ~4%>` (relevance)",
        lambda _catalog, rng: Request("GET", _products(search=rng.choice(ADJECTIVES))),
        templated=False,
    ),
    Scenario(
        "search-common-filtered",
        "search-common-filtered",
        "read",
        "`/api/products/?search=<one of the 24 adjectives>` and, each a quarter of the requests:"
        " `min_price=<0.01..99.99>` (removes none), `min_price=<r>&max_price=<r+2k..40k>`,"
        " `category=<random>`, or both (relevance)",
        _search_filtered,
        templated=False,
        pool_factor=10,
    ),
    Scenario(
        "search-rare",
        "search-rare",
        "read",
        "`/api/products/?search=<a model code: 1 product>`",
        lambda catalog, rng: Request("GET", _products(search=rng.choice(catalog.codes))),
        templated=False,
    ),
    Scenario(
        "search-typo",
        "search-typo",
        "read",
        "`/api/products/?search=<a model code, one letter wrong>`",
        lambda catalog, rng: Request("GET", _products(search=typo(rng.choice(catalog.codes), rng))),
        templated=False,
    ),
    Scenario(
        "deep-page",
        "deep-page",
        "read",
        "`/api/products/?category=<random>&offset=10000` (name order)",
        _deep_page,
    ),
    Scenario(
        "detail",
        "detail",
        "read",
        "`/api/products/<random id>/`",
        lambda catalog, rng: Request("GET", f"/api/products/{rng.choice(catalog.ids)}/"),
        lean=True,
    ),
    Scenario(
        "cart-add",
        "cart-add",
        "cart-add",
        "`POST /api/cart/` `{product_id: <1 of 20>, quantity: 1}` from 1 000 cookie sessions",
        lambda _catalog, _rng: Request("POST", "/api/cart/"),  # filled in by `cart_add_pool`
        lean=True,
    ),
    Scenario(
        "cart-get",
        "cart-get",
        "cart-get",
        "`GET /api/cart/` of a session with 5 lines",
        lambda _catalog, _rng: Request("GET", "/api/cart/"),  # filled in by `cart_get_pool`
        lean=True,
    ),
    Scenario(
        "page-catalog",
        "page-catalog",
        "read",
        "`GET /?category=<random>&page=<1..50>` (HTML)",
        _page_catalog,
        lean=True,
    ),
    Scenario(
        "account",
        "account",
        "account-get",
        "`GET /api/account/` from 1 000 signed-in sessions (the sign-in lookup, the customer)",
        lambda _catalog, _rng: Request("GET", "/api/account/"),  # filled in by `account_get_pool`
    ),
    # Last: its orders write to products (stock, row locks), which the reads above would see.
    Scenario(
        "checkout",
        "checkout",
        "checkout",
        "`POST /api/checkout/`: places an order; a session of its own per request, its cart 1"
        " product (of 1 000, half with tracked stock), pickup or courier",
        lambda _catalog, _rng: Request("POST", "/api/checkout/"),  # bench/sessions.py makes them
    ),
]
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


def read_pool(scenario: Scenario, catalog: Catalog, rng: Random, size: int) -> list[Request]:
    """`size` random requests of a read scenario (duplicates kept: they are random draws)."""
    return [scenario.draw(catalog, rng) for _ in range(size)]


def cart_add_pool(sessions: int, products: list[int], rng: Random, size: int) -> list[Request]:
    """Adds of one of `products` (1 each) from one of `sessions` cookie sessions, at random.

    A small product set keeps every cart under the 100-line limit however long the run: lines
    grow in quantity instead (up to 99 each, far beyond what one run adds).
    """
    return [
        Request(
            "POST",
            "/api/cart/",
            f"add:{rng.randrange(sessions)}",
            json.dumps({"product_id": rng.choice(products), "quantity": 1}),
        )
        for _ in range(size)
    ]


def cart_get_pool(sessions: int) -> list[Request]:
    """One cart read per session that holds 5 lines."""
    return [Request("GET", "/api/cart/", f"get:{number}") for number in range(sessions)]


def account_get_pool(sessions: int) -> list[Request]:
    """One account read per signed-in session."""
    return [Request("GET", "/api/account/", f"account:{number}") for number in range(sessions)]
