"""The products and categories API: reads, filters, admin writes, and every bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from storefront.catalog import DEFERRED_FROM
from storefront.extensions import db
from storefront.models import Category, Product
from tests.conftest import ADMIN_TOKEN, make_app
from tests.factories import AUTH, create_product, create_products, product_data

PRODUCT_KEYS = {"id", "name", "description", "price", "image", "category", "stock"}
PAGE_KEYS = {"items", "total", "total_exact", "limit", "offset"}
PROBLEM_KEYS = {"type", "title", "status", "detail"}
LEAKS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "SELECT ", "INSERT ")
BIG_IDS = ["0", "-1", "abc", str(2**31), str(2**63), str(10**30), "9" * 5000]
DEMO_CATEGORIES = [
    {"name": "Аксессуары", "slug": "aksessuary", "product_count": 2},
    {"name": "Бытовая техника", "slug": "bytovaia-tekhnika", "product_count": 5},
    {"name": "Канцелярия", "slug": "kantseliariia", "product_count": 2},
    {"name": "Мебель", "slug": "mebel", "product_count": 3},
    {"name": "Спорт", "slug": "sport", "product_count": 3},
    {"name": "Электроника", "slug": "elektronika", "product_count": 5},
]


def short_id(value: object) -> str | None:
    """A readable test id for long parameter values (None lets pytest choose)."""
    if isinstance(value, str) and len(value) > 24:
        head = value[:12] if value[:12].isascii() else "text"
        return f"{head}...{len(value)}-chars"
    return value if isinstance(value, str) else None


def send(
    client: FlaskClient,
    method: str,
    path: str,
    body: object = None,
    *,
    raw: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    content_type: str | None = "application/json",
) -> TestResponse:
    """Send `body` as ASCII JSON text (lone surrogates survive as escapes) or `raw` as is."""
    data = raw if raw is not None else (None if body is None else json.dumps(body))
    return client.open(
        path,
        method=method.upper(),
        data=data,
        content_type=content_type if data is not None else None,
        headers=AUTH if headers is None else headers,
    )


def raw_product(price: str = "100", **fields: str) -> str:
    """A product body as JSON text with `price` (and `fields`) spliced in verbatim."""
    parts = {"name": '"Товар"', "price": price, "category": '"Тест"', **fields}
    return "{" + ",".join(f'"{key}":{value}' for key, value in parts.items()) + "}"


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """A problem+json answer of `status` without internals; returns its body."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == "application/problem+json"
    body = json.loads(text)
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert all(isinstance(body[key], str) and body[key] for key in ("type", "title", "detail"))
    assert not any(leak in text for leak in LEAKS), text
    return body


def assert_invalid(response: TestResponse, *locs: list[Any]) -> list[list[Any]]:
    """A 422 whose `errors` name every loc in `locs` (a listed prefix is enough)."""
    body = assert_problem(response, 422)
    found = [issue["loc"] for issue in body["errors"]]
    assert all(isinstance(issue["msg"], str) and issue["msg"] for issue in body["errors"])
    for loc in locs:
        assert any(got[: len(loc)] == loc for got in found), (loc, found)
    return found


def row_counts(app: Flask) -> tuple[int, int]:
    """(products, categories) as stored."""
    with app.app_context():
        products = db.session.scalar(select(func.count()).select_from(Product))
        categories = db.session.scalar(select(func.count()).select_from(Category))
        return products, categories


def listing(client: FlaskClient, query: Any = None) -> dict[str, Any]:
    """GET /api/products/ with `query`; asserts 200 and returns the page."""
    response = client.get("/api/products/", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_json()
    assert page.keys() == PAGE_KEYS
    return page


def ids(page: dict[str, Any]) -> list[int]:
    """The ids of a page's items, in order."""
    return [item["id"] for item in page["items"]]


def walk(client: FlaskClient, limit: int, query: dict[str, str]) -> list[int]:
    """Every id met while paging through the list `limit` items at a time."""
    seen: list[int] = []
    offset = 0
    while True:
        page = listing(client, {**query, "limit": limit, "offset": offset})
        seen += ids(page)
        if len(page["items"]) < limit:
            return seen
        offset += limit


def price_tokens(text: str) -> list[str]:
    """Every `price` value exactly as written in raw JSON text."""
    return re.findall(r'"price":([^,}]*)', text)


@pytest.fixture
def variant(database_url: str, app: Flask) -> Iterator[Callable[..., Flask]]:
    """Make apps with other settings on the test database (closed before it is emptied)."""
    made: list[Flask] = []

    def build(**overrides: object) -> Flask:
        made.append(make_app(database_url, **overrides))
        return made[-1]

    yield build
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def product(client: FlaskClient) -> dict[str, Any]:
    """One product with every field set."""
    return create_product(
        client,
        name="Лампа",
        description="Настольная",
        price="2599.50",
        category="Свет",
        image="https://cdn.example/lamp.png",
    )


@pytest.fixture
def mixed(client: FlaskClient) -> list[dict[str, Any]]:
    """Ten products sharing names (in any case) and prices, made in one transaction."""
    names = ["Бета", "альфа", "БЕТА", "Гамма", "Альфа"]
    prices = ["100", "250.50"]
    items = [
        product_data(name=names[i % 5], price=prices[i % 2], description="общий товар")
        for i in range(10)
    ]
    return create_products(client, items)


# --- listing ------------------------------------------------------------------------------------


def test_list_defaults(client: FlaskClient) -> None:
    """Without parameters: 20 items sorted by name, offset 0, exact total."""
    numbers = list(range(25))
    created = create_products(
        client, [product_data(name=f"Товар {n:02d}") for n in reversed(numbers)]
    )
    page = listing(client)
    assert (page["limit"], page["offset"], page["total"], page["total_exact"]) == (20, 0, 25, True)
    assert [item["name"] for item in page["items"]] == [f"Товар {n:02d}" for n in numbers[:20]]
    assert all(item.keys() == PRODUCT_KEYS for item in page["items"])
    assert ids(page)[0] == created[-1]["id"]


def test_empty_catalog(client: FlaskClient) -> None:
    """An empty catalog is an empty, exact page."""
    assert listing(client) == {
        "items": [],
        "total": 0,
        "total_exact": True,
        "limit": 20,
        "offset": 0,
    }


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (["Мебель"], {"Мебель"}),
        (["мебель"], {"Мебель"}),
        (["МЕБЕЛЬ"], {"Мебель"}),
        (["mebel"], {"Мебель"}),
        (["бытовая техника"], {"Бытовая техника"}),
        (["bytovaia-tekhnika"], {"Бытовая техника"}),
        (["Мебель", "sport"], {"Мебель", "Спорт"}),
        (["Мебель", "Нет такой"], {"Мебель"}),
        (["Нет такой"], set()),
        (["nope-slug"], set()),
    ],
)
def test_category_filter(
    client: FlaskClient, demo: dict[str, int], categories: list[str], expected: set[str]
) -> None:
    """Categories match by name (any case) or slug; several mean any; unknown is empty."""
    page = listing(client, {"category": categories, "limit": 100})
    everything = listing(client, {"limit": 100})["items"]
    wanted = [item["id"] for item in everything if item["category"] in expected]
    assert ids(page) == wanted
    assert (page["total"], page["total_exact"]) == (len(wanted), True)


@pytest.mark.parametrize(
    ("query", "low", "high"),
    [
        ({"min_price": "2599"}, "2599", None),
        ({"max_price": "2599"}, None, "2599"),
        ({"min_price": "2599", "max_price": "3999"}, "2599", "3999"),
        ({"min_price": "2599.00", "max_price": "2599"}, "2599", "2599"),
        ({"min_price": "0"}, "0", None),
        ({"max_price": "599.99"}, None, "599.99"),
    ],
)
def test_price_filter(
    client: FlaskClient,
    demo: dict[str, int],
    query: dict[str, str],
    low: str | None,
    high: str | None,
) -> None:
    """min_price and max_price keep exactly the products priced within the bounds."""
    text = client.get("/api/products/?limit=100").get_data(as_text=True)
    everything = json.loads(text, parse_float=Decimal)["items"]
    wanted = [
        item["id"]
        for item in everything
        if (low is None or item["price"] >= Decimal(low))
        and (high is None or item["price"] <= Decimal(high))
    ]
    assert ids(listing(client, {**query, "limit": 100})) == wanted


def test_price_bounds_are_inclusive(client: FlaskClient, demo: dict[str, int]) -> None:
    """Products priced exactly at min_price or max_price are kept."""
    page = listing(client, {"min_price": "2599", "max_price": "3999", "sort": "price"})
    names = [item["name"] for item in page["items"]]
    assert (names[0], names[-1]) == ("Беспроводная мышь", "Зарядное устройство USB-C")
    only = listing(client, {"min_price": "2599", "max_price": "2599"})
    assert [item["name"] for item in only["items"]] == ["Беспроводная мышь"]


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [
        (None, "name", False),
        ("name", "name", False),
        ("relevance", "name", False),
        ("-name", "name", True),
        ("price", "price", False),
        ("-price", "price", True),
    ],
)
def test_sort_orders_end_with_id(
    client: FlaskClient,
    mixed: list[dict[str, Any]],
    sort: str | None,
    key: str,
    descending: bool,
) -> None:
    """Each sort orders by its key (names case-insensitively), ties by id ascending."""
    by_id = sorted(mixed, key=lambda item: item["id"])

    def sort_key(item: dict[str, Any]) -> Any:
        return item["name"].lower() if key == "name" else Decimal(str(item["price"]))

    expected = [item["id"] for item in sorted(by_id, key=sort_key, reverse=descending)]
    query = {"limit": 100} if sort is None else {"sort": sort, "limit": 100}
    assert ids(listing(client, query)) == expected


def test_newest_is_created_at_then_id_descending(app: Flask, client: FlaskClient) -> None:
    """`newest`: latest created_at first, ties (one transaction) by id descending."""
    created = create_products(client, [product_data(name=f"Старый {n}") for n in range(3)])
    created += create_products(client, [product_data(name=f"Новый {n}") for n in range(3)])
    backdated = created[-1]["id"]
    with app.app_context():
        db.session.execute(
            update(Product)
            .where(Product.id == backdated)
            .values(created_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
        db.session.commit()
    newer = sorted((item["id"] for item in created if item["id"] != backdated), reverse=True)
    assert ids(listing(client, {"sort": "newest"})) == [*newer, backdated]


@pytest.mark.parametrize("sort", [None, "name", "-name", "price", "-price", "newest"])
def test_paging_visits_every_product_once(
    client: FlaskClient, mixed: list[dict[str, Any]], sort: str | None
) -> None:
    """Walking every page of 3 meets each product exactly once, in the one-page order."""
    query = {} if sort is None else {"sort": sort}
    seen = walk(client, 3, query)
    assert sorted(seen) == sorted(item["id"] for item in mixed)
    assert seen == ids(listing(client, {**query, "limit": 100}))


@pytest.mark.parametrize("sort", ["name", "-name", "price", "-price", "newest"])
def test_deep_pages_hold_the_same_order(client: FlaskClient, sort: str) -> None:
    """Pages past DEFERRED_FROM (found by id first) continue the order of the pages before."""
    names = ["Бета", "альфа", "Гамма"]
    made = create_products(
        client,
        [
            product_data(
                name=f"{names[n % 3]} {n % 7}",
                price=str(100 + n % 11),
                category=("Мебель", "Свет")[n % 2],
            )
            for n in range(2 * DEFERRED_FROM + 60)
        ],
    )
    query = {"sort": sort, "category": "Мебель", "min_price": "101"}
    wanted = {item["id"] for item in made if item["category"] == "Мебель" and item["price"] >= 101}
    by_hundred = walk(client, 100, query)
    assert sorted(by_hundred) == sorted(wanted)
    assert len(by_hundred) > DEFERRED_FROM
    assert walk(client, 9, query) == by_hundred
    page = listing(client, {"sort": sort, "offset": DEFERRED_FROM, "limit": 30})
    assert ids(page) == walk(client, 100, {"sort": sort})[DEFERRED_FROM : DEFERRED_FROM + 30]
    assert (page["total"], page["total_exact"]) == (len(made), True)


def test_paging_by_relevance_visits_every_product_once(
    client: FlaskClient, mixed: list[dict[str, Any]]
) -> None:
    """Paging a search whose matches tie on relevance still meets each product once."""
    seen = walk(client, 3, {"search": "общий"})
    assert sorted(seen) == sorted(item["id"] for item in mixed)


def test_empty_values_count_as_absent(client: FlaskClient, mixed: list[dict[str, Any]]) -> None:
    """Empty parameters, as a plain HTML form sends them, change nothing."""
    empty = "min_price=&max_price=&search=&sort=&limit=&offset=&category="
    assert client.get(f"/api/products/?{empty}").get_json() == listing(client)


def test_unknown_parameters_are_ignored(client: FlaskClient, mixed: list[dict[str, Any]]) -> None:
    """Parameters the API does not know leave the answer as it was."""
    odd = {"limit": 4, "page": 3, "foo": "bar", "sort[]": "x", "utm_source": "mail"}
    assert listing(client, odd) == listing(client, {"limit": 4})


@pytest.mark.parametrize(
    ("query", "locs"),
    [
        ("min_price=abc", [["query", "min_price"]]),
        ("min_price=-1", [["query", "min_price"]]),
        ("min_price=1e3", [["query", "min_price"]]),
        ("min_price=NaN", [["query", "min_price"]]),
        ("max_price=abc", [["query", "max_price"]]),
        ("max_price=-1", [["query", "max_price"]]),
        ("min_price=%D9%A1%D9%A0", [["query", "min_price"]]),
        ("search=" + "a" * 201, [["query", "search"]]),
        ("search=" + "%F0%9F%98%80" * 201, [["query", "search"]]),
        ("search=a%00b", [["query", "search"]]),
        ("sort=bogus", [["query", "sort"]]),
        ("sort=PRICE", [["query", "sort"]]),
        ("limit=0", [["query", "limit"]]),
        ("limit=101", [["query", "limit"]]),
        ("limit=x", [["query", "limit"]]),
        ("limit=-1", [["query", "limit"]]),
        ("limit=1.5", [["query", "limit"]]),
        ("limit=" + "9" * 5000, [["query", "limit"]]),
        ("offset=-1", [["query", "offset"]]),
        ("offset=10001", [["query", "offset"]]),
        ("offset=x", [["query", "offset"]]),
        ("offset=" + str(2**63), [["query", "offset"]]),
        ("category=" + "x" * 101, [["query", "category"]]),
        ("category=%00", [["query", "category"]]),
        ("limit=0&offset=-1&sort=bogus", [["query", n] for n in ("limit", "offset", "sort")]),
    ],
    ids=short_id,
)
def test_bad_query_values_are_422(client: FlaskClient, query: str, locs: list[list[str]]) -> None:
    """Each bad query value is a 422 naming it under `query`."""
    assert_invalid(client.get(f"/api/products/?{query}"), *locs)


def test_min_price_above_max_price_is_422(client: FlaskClient) -> None:
    """min_price > max_price is a 422 naming one of the two."""
    found = assert_invalid(client.get("/api/products/?min_price=10&max_price=5"))
    assert any(loc in (["query", "min_price"], ["query", "max_price"]) for loc in found)


@pytest.mark.parametrize(
    "query", ["limit=1", "limit=100", "offset=0", "offset=10000", "search=" + "я" * 200]
)
def test_query_limits_are_inclusive(client: FlaskClient, query: str) -> None:
    """The edge values of limit, offset and search are accepted."""
    assert client.get(f"/api/products/?{query}").status_code == 200


@pytest.mark.parametrize(
    ("products", "limit", "total", "exact"),
    [
        (4, 20, 4, True),
        (4, 3, 4, True),
        (5, 20, 5, True),
        (5, 3, 5, True),
        (6, 3, 5, False),
        (8, 20, 5, False),
        (8, 3, 5, False),
    ],
)
def test_count_cap(
    variant: Callable[..., Flask], products: int, limit: int, total: int, exact: bool
) -> None:
    """Totals are exact up to COUNT_CAP; past it they are COUNT_CAP and marked inexact."""
    capped = variant(COUNT_CAP=5).test_client()
    create_products(capped, [product_data(name=f"Товар {n}") for n in range(products)])
    page = listing(capped, {"limit": limit})
    assert (page["total"], page["total_exact"]) == (total, exact)
    assert len(page["items"]) == min(products, limit)
    assert listing(capped, {"offset": 5})["offset"] == 5
    assert_invalid(capped.get("/api/products/?offset=6"), ["query", "offset"])


# --- search -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"search": "мышь"}, ["Беспроводная мышь"]),
        ({"search": "МЫШЬ"}, ["Беспроводная мышь"]),
        ({"search": "набор", "category": "Спорт"}, ["Набор гантелей"]),
        (
            {"search": "набор", "sort": "price"},
            ["Набор шариковых ручек", "Набор гантелей", "Набор посуды"],
        ),
    ],
)
def test_search_is_wired(
    client: FlaskClient, demo: dict[str, int], query: dict[str, str], names: list[str]
) -> None:
    """`search` narrows the list and combines with the other filters."""
    assert [item["name"] for item in listing(client, query)["items"]] == names


@pytest.mark.parametrize(
    "text",
    [
        "%",
        "_",
        "'",
        '"',
        "\\",
        "' OR 1=1 --",
        "; DROP TABLE products;",
        "😀" * 200,
        "&",
        "!",
        ":*",
        "100%",
    ],
    ids=short_id,
)
@pytest.mark.parametrize("sort", [None, "name"])
def test_search_special_characters_are_text(
    app: Flask, client: FlaskClient, demo: dict[str, int], text: str, sort: str | None
) -> None:
    """Wildcards, quotes, SQL and emoji are plain text: 200, and they match not everything."""
    query = {"search": text} if sort is None else {"search": text, "sort": sort}
    page = listing(client, query)
    assert page["total"] < len(demo)
    assert row_counts(app) == (len(demo), len(DEMO_CATEGORIES))


# --- one product --------------------------------------------------------------------------------


def test_product_detail(client: FlaskClient, product: dict[str, Any]) -> None:
    """GET /api/products/{id}/ answers the product."""
    response = client.get(f"/api/products/{product['id']}/")
    assert response.status_code == 200
    assert response.get_json() == product
    assert product == {
        "id": product["id"],
        "name": "Лампа",
        "description": "Настольная",
        "price": 2599.5,
        "image": "https://cdn.example/lamp.png",
        "category": "Свет",
        "stock": None,
    }


@pytest.mark.parametrize("product_id", [*BIG_IDS, "1.5", "1e3", "%20", "１"], ids=short_id)
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_product_ids_are_404(
    client: FlaskClient, product: dict[str, Any], method: str, product_id: str
) -> None:
    """Ids that are not ids, or out of the 32-bit range, are 404 for every product method."""
    body = {"name": "Другое"} if method == "patch" else None
    for path in (f"/api/products/{product_id}/", f"/api/products/{product_id}"):
        assert_problem(send(client, method, path, body), 404)
    assert client.get(f"/api/products/{product['id']}/").get_json() == product


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_missing_product_is_404(client: FlaskClient, product: dict[str, Any], method: str) -> None:
    """A well-formed id of no product is 404."""
    body = {"name": "Другое"} if method == "patch" else None
    assert_problem(send(client, method, f"/api/products/{product['id'] + 1}/", body), 404)


# --- paths, methods, caching, probes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/products", None, 200),
        ("get", "/api/products/{id}", None, 200),
        ("get", "/api/categories", None, 200),
        ("get", "/api/openapi.json", None, 200),
        ("get", "/api/docs", None, 200),
        ("post", "/api/products", product_data(), 201),
        ("post", "/api/products/bulk", [product_data()], 201),
        ("patch", "/api/products/{id}", {"price": 5}, 200),
        ("delete", "/api/products/{id}", None, 204),
    ],
)
@pytest.mark.parametrize("slash", ["", "/"])
def test_paths_answer_with_and_without_slash(
    client: FlaskClient,
    product: dict[str, Any],
    method: str,
    path: str,
    body: object,
    status: int,
    slash: str,
) -> None:
    """Every path answers with and without its trailing slash, never with a redirect."""
    response = send(client, method, path.format(id=product["id"]) + slash, body)
    assert response.status_code == status, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/products/{id}"),
        ("post", "/api/products/{id}"),
        ("put", "/api/products"),
        ("delete", "/api/products"),
        ("patch", "/api/products"),
        ("post", "/api/categories"),
        ("delete", "/api/categories"),
        ("get", "/api/products/bulk"),
        ("delete", "/api/products/bulk"),
    ],
)
@pytest.mark.parametrize("slash", ["/", ""])
def test_wrong_method_is_405(
    app: Flask, client: FlaskClient, product: dict[str, Any], method: str, path: str, slash: str
) -> None:
    """A method the path does not take is a 405 problem with Allow, and changes nothing."""
    response = send(client, method, path.format(id=product["id"]) + slash, product_data())
    assert_problem(response, 405)
    allowed = {name.strip() for name in response.headers["Allow"].split(",")}
    assert allowed
    assert method.upper() not in allowed
    assert row_counts(app) == (1, 1)


def test_product_reads_are_publicly_cacheable(client: FlaskClient, product: dict[str, Any]) -> None:
    """Product and category GETs are public with an ETag; If-None-Match gives 304."""
    for path in (f"/api/products/{product['id']}/", "/api/products/", "/api/categories/"):
        response = client.get(path)
        assert "public" in response.headers["Cache-Control"]
        etag = response.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.get_data() == b""


def test_cached_reads_are_kept_per_origin(client: FlaskClient, product: dict[str, Any]) -> None:
    """An answer to an unlisted Origin has no Access-Control-Allow-Origin; a shared cache must
    not hand that copy to the real frontend (its browser would block it): every cacheable
    read says `Vary: Origin`."""
    for path in (f"/api/products/{product['id']}/", "/api/products/", "/api/categories/"):
        stranger = client.get(path, headers={"Origin": "http://elsewhere.example"})
        frontend = client.get(path, headers={"Origin": "http://localhost:3000"})
        assert "Access-Control-Allow-Origin" not in stranger.headers
        assert frontend.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        for response in (stranger, frontend, client.get(path)):
            assert "Origin" in response.headers.get("Vary", ""), (path, response.headers)


def test_etag_changes_with_the_product(client: FlaskClient, product: dict[str, Any]) -> None:
    """After a change, the old ETag no longer matches."""
    path = f"/api/products/{product['id']}/"
    etag = client.get(path).headers["ETag"]
    send(client, "patch", path, {"price": 1})
    response = client.get(path, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.get_json()["price"] == 1


def test_errors_are_not_cached(client: FlaskClient) -> None:
    """A 404 is never stored by a shared cache."""
    response = client.get("/api/products/12345/")
    assert_problem(response, 404)
    assert "public" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes(client: FlaskClient, path: str) -> None:
    """The liveness and readiness probes answer 200 with a working database."""
    assert client.get(path).status_code == 200


def test_catalog_reads_are_the_same_for_every_session(
    client: FlaskClient, product: dict[str, Any]
) -> None:
    """A catalog read never looks at the session cookie, so it does not say `Vary: Cookie`
    (a shared cache may keep one copy for every shopper); the cart, which does, says it."""
    client.post("/api/cart/", json={"product_id": product["id"], "quantity": 1})
    for path in (f"/api/products/{product['id']}/", "/api/products/", "/api/categories/"):
        vary = client.get(path).headers.get("Vary", "")
        assert "Cookie" not in vary, (path, vary)
    assert "Cookie" in client.get("/api/cart/").headers["Vary"]


def test_no_cors_headers_without_an_origin(client: FlaskClient) -> None:
    """A request without `Origin` (same-origin page, server, curl) asked for no CORS: its
    answer lists no allowed origins, though `CORS_ORIGINS` has one."""
    for method, path in (("GET", "/api/products/"), ("OPTIONS", "/api/cart/")):
        response = client.open(path, method=method)
        names = [name for name, _value in response.headers.items()]
        granted = [name for name in names if name.startswith("Access-Control")]
        assert granted == [], (method, path, granted)


def test_cors_for_listed_origins_only(client: FlaskClient) -> None:
    """A listed frontend may read with credentials; another site gets no CORS grant."""
    listed = client.get("/api/products/", headers={"Origin": "http://localhost:3000"})
    assert listed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert listed.headers["Access-Control-Allow-Credentials"] == "true"
    other = client.get("/api/products/", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = {"Access-Control-Request-Method": "POST"}
    evil = client.options("/api/products/", headers={"Origin": "https://evil.example", **preflight})
    assert "Access-Control-Allow-Origin" not in evil.headers


# --- categories ---------------------------------------------------------------------------------


def test_categories_of_the_demo(client: FlaskClient, demo: dict[str, int]) -> None:
    """Categories are sorted by name, with their transliterated slugs and counts."""
    response = client.get("/api/categories/")
    assert response.status_code == 200
    assert response.get_json() == DEMO_CATEGORIES


def test_slug_clash_gets_a_number(client: FlaskClient, demo: dict[str, int]) -> None:
    """A new category whose slug is taken gets -2, then -3; old slugs stay."""
    create_product(client, category="Mebel")
    create_product(client, category="Mébel")
    slugs = {item["name"]: item["slug"] for item in client.get("/api/categories/").get_json()}
    assert (slugs["Мебель"], slugs["Mebel"], slugs["Mébel"]) == ("mebel", "mebel-2", "mebel-3")


# --- prices -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "written"),
    [
        ("2599", "2599"),
        ('"2599"', "2599"),
        ('"2599.00"', "2599"),
        ("2599.00", "2599"),
        ('"2599.5"', "2599.5"),
        ('"2599.50"', "2599.5"),
        ("2599.5", "2599.5"),
        ('"10.50"', "10.5"),
        ("0.01", "0.01"),
        ('"0.1"', "0.1"),
        ("100", "100"),
        ("1e3", "1000"),
        ("1E+2", "100"),
        ("1000000000", "1000000000"),
        ('"1000000000.00"', "1000000000"),
    ],
)
def test_prices_are_plain_decimal_numbers(client: FlaskClient, price: str, written: str) -> None:
    """Prices come back as JSON numbers from the normalised decimal, never exponent or .00."""
    created = send(client, "post", "/api/products/", raw=raw_product(price))
    assert created.status_code == 201, created.get_data(as_text=True)
    product_id = created.get_json()["id"]
    for response in (
        created,
        client.get(f"/api/products/{product_id}/"),
        client.get("/api/products/"),
    ):
        text = response.get_data(as_text=True)
        assert price_tokens(text) == [written]
        body = json.loads(text, parse_float=Decimal)
        item = body["items"][0] if "items" in body else body
        assert item["price"] == Decimal(written)


@pytest.mark.parametrize(
    "price",
    [
        '"10.505"',
        "10.505",
        '"1e3"',
        "0",
        "0.00",
        '"0"',
        '"0.00"',
        "-5",
        '"-5"',
        "-0",
        '"1000000000.01"',
        "1000000000.01",
        '"12345678901"',
        "true",
        "false",
        "null",
        '"abc"',
        '""',
        '" 10"',
        '"10."',
        '".5"',
        '"10,50"',
        '"١٠"',
        '"１０"',
        "[]",
        "{}",
        str(10**30),
        "9" * 5000,
        "1e400",
        "1e-400",
    ],
    ids=short_id,
)
def test_bad_prices_are_422(app: Flask, client: FlaskClient, price: str) -> None:
    """A price that is not a 2-decimal amount in (0, 1e9] is a 422 naming body.price."""
    response = send(client, "post", "/api/products/", raw=raw_product(price))
    assert_invalid(response, ["body", "price"])
    assert row_counts(app) == (0, 0)


def test_missing_price_is_422(client: FlaskClient) -> None:
    """A product without a price is a 422 naming body.price."""
    body = product_data()
    del body["price"]
    assert_invalid(send(client, "post", "/api/products/", body), ["body", "price"])


# --- creating -----------------------------------------------------------------------------------


def test_create_answers_201_with_location(client: FlaskClient) -> None:
    """POST answers 201 with the product and a Location that GETs the same product."""
    response = send(client, "post", "/api/products/", product_data(name="Лампа", price="10.50"))
    assert response.status_code == 201
    created = response.get_json()
    assert created.keys() == PRODUCT_KEYS
    assert (created["description"], created["image"], created["stock"]) == ("Описание", None, None)
    location = response.headers["Location"]
    assert location.endswith(f"/api/products/{created['id']}/")
    assert client.get(location).get_json() == created


def test_create_defaults(client: FlaskClient) -> None:
    """description defaults to "" and image to null."""
    body = {"name": "Ручка", "price": 5, "category": "Канцелярия"}
    created = send(client, "post", "/api/products/", body).get_json()
    assert (created["description"], created["image"]) == ("", None)


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        pytest.param("name", "н" * 200, True, id="name-200"),
        pytest.param("name", "н" * 201, False, id="name-201"),
        pytest.param("name", "", False, id="name-empty"),
        pytest.param("name", "   ", False, id="name-blank"),
        pytest.param("name", "😀" * 200, True, id="name-200-emoji"),
        pytest.param("name", "İ" * 200, True, id="name-200-dotted-capital-i"),
        pytest.param("description", "д" * 5000, True, id="description-5000"),
        pytest.param("description", "д" * 5001, False, id="description-5001"),
        pytest.param("description", "", True, id="description-empty"),
        pytest.param("category", "к" * 100, True, id="category-100"),
        pytest.param("category", "к" * 101, False, id="category-101"),
        pytest.param("category", "", False, id="category-empty"),
        pytest.param("category", "İ" * 100, True, id="category-100-dotted-capital-i"),
    ],
)
def test_text_lengths(app: Flask, client: FlaskClient, field: str, value: str, ok: bool) -> None:
    """name 1–200, description 0–5000, category 1–100 characters of any script."""
    response = send(client, "post", "/api/products/", product_data(**{field: value}))
    if ok:
        assert response.status_code == 201, response.get_data(as_text=True)[:300]
        fetched = client.get(f"/api/products/{response.get_json()['id']}/").get_json()
        assert fetched[field] == value
    else:
        assert_invalid(response, ["body", field])
        assert row_counts(app) == (0, 0)


@pytest.mark.parametrize(
    ("image", "stored"),
    [
        ("https://cdn.example/x.png", "https://cdn.example/x.png"),
        ("http://cdn.example/x.png?size=2", "http://cdn.example/x.png?size=2"),
        ("/static/x.png", "/static/x.png"),
        (None, None),
        ("", None),
    ],
)
def test_good_images(client: FlaskClient, image: str | None, stored: str | None) -> None:
    """An image is an absolute http(s) URL, a path from /, or nothing."""
    assert create_product(client, image=image)["image"] == stored


@pytest.mark.parametrize(
    "image",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:image/png;base64,AAAA",
        "ftp://x",
        "//evil",
        "//evil.example/x.png",
        "/\\evil.example/x.png",
        "\\\\evil.example/x.png",
        "x.png",
        "https://",
        "http:///x.png",
        "https://cdn.example/a b.png",
        "/static/\n.png",
        "/" + "a" * 2000,
        5,
        True,
        ["/x.png"],
    ],
    ids=short_id,
)
def test_bad_images_are_422(app: Flask, client: FlaskClient, image: object) -> None:
    """Scripts, other schemes, protocol-relative URLs and non-strings are refused."""
    response = send(client, "post", "/api/products/", product_data(image=image))
    assert_invalid(response, ["body", "image"])
    assert row_counts(app) == (0, 0)


@pytest.mark.parametrize("field", ["name", "description", "category", "image"])
@pytest.mark.parametrize("bad", ["\x00", "\ud800", "\udfff"])
def test_nul_and_lone_surrogates_are_422(
    app: Flask, client: FlaskClient, field: str, bad: str
) -> None:
    """NUL characters and lone surrogates in text are a 422, never a 500."""
    value = f"/a{bad}b" if field == "image" else f"a{bad}b"
    response = send(client, "post", "/api/products/", product_data(**{field: value}))
    assert_invalid(response, ["body", field])
    assert row_counts(app) == (0, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "5"),
        ("name", "true"),
        ("name", '["Лампа"]'),
        ("name", '{"ru": "Лампа"}'),
        ("name", "null"),
        ("description", "5"),
        ("description", "null"),
        ("category", "5"),
        ("category", "null"),
        ("category", '["Свет"]'),
    ],
)
def test_types_are_strict(app: Flask, client: FlaskClient, field: str, value: str) -> None:
    """A number, boolean, list or null where text is due is a 422 naming the field."""
    response = send(client, "post", "/api/products/", raw=raw_product(**{field: value}))
    assert_invalid(response, ["body", field])
    assert row_counts(app) == (0, 0)


@pytest.mark.parametrize("extra", ["id", "slug", "created_at", "Name", "category_id"])
def test_extra_fields_are_422(app: Flask, client: FlaskClient, extra: str) -> None:
    """A field the API does not take is a 422 naming it (ids of any size included)."""
    response = send(client, "post", "/api/products/", {**product_data(), extra: 2**63})
    assert_invalid(response, ["body", extra])
    assert row_counts(app) == (0, 0)


@pytest.mark.parametrize(
    "raw",
    ["[]", '"Лампа"', "5", "null", "true", json.dumps(json.dumps(product_data()))],
    ids=["array", "string", "number", "null", "true", "json-in-a-string"],
)
def test_body_must_be_an_object(app: Flask, client: FlaskClient, raw: str) -> None:
    """Any JSON that is not an object, a string holding JSON included, is a 422."""
    assert_invalid(send(client, "post", "/api/products/", raw=raw), ["body"])
    assert row_counts(app) == (0, 0)


def test_missing_body_is_422(client: FlaskClient) -> None:
    """A create without a body (and without a Content-Type) is a 422 naming the body."""
    assert_invalid(send(client, "post", "/api/products/"), ["body"])


def test_empty_json_body_is_400(client: FlaskClient) -> None:
    """An empty body sent as application/json is not JSON: malformed, 400."""
    assert_problem(send(client, "post", "/api/products/", raw=""), 400)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("{", id="open-brace"),
        pytest.param('{"name": }', id="missing-value"),
        pytest.param("{'name': 'Лампа'}", id="single-quotes"),
        pytest.param(raw_product() + " x", id="trailing-garbage"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param("NaN", id="bare-nan"),
        pytest.param(raw_product("NaN"), id="nan"),
        pytest.param(raw_product("Infinity"), id="infinity"),
        pytest.param(raw_product("-Infinity"), id="minus-infinity"),
    ],
)
@pytest.mark.parametrize("path", ["/api/products/", "/api/products/bulk/"])
def test_malformed_json_is_400(app: Flask, client: FlaskClient, path: str, raw: str) -> None:
    """JSON that does not parse (NaN and Infinity included) is a 400 and writes nothing."""
    assert_problem(send(client, "post", path, raw=raw), 400)
    assert row_counts(app) == (0, 0)


def test_deeply_nested_json_is_a_client_error(app: Flask, client: FlaskClient) -> None:
    """Nesting deeper than the parser goes is a 400 or 422 (valid JSON, unreadable), not a 500."""
    response = send(client, "post", "/api/products/", raw="[" * 100_000 + "]" * 100_000)
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)
    assert row_counts(app) == (0, 0)


# --- admin access -------------------------------------------------------------------------------


ADMIN_CALLS = [
    ("post", "/api/products/", product_data(name="Новый")),
    ("post", "/api/products/bulk/", [product_data(name="Новый")]),
    ("patch", "/api/products/{id}/", {"name": "Новый"}),
    ("delete", "/api/products/{id}/", None),
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": ADMIN_TOKEN},
    ],
    ids=["none", "wrong", "longer", "shorter", "empty", "basic", "no-scheme"],
)
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_writes_need_the_token(
    app: Flask,
    client: FlaskClient,
    product: dict[str, Any],
    method: str,
    path: str,
    body: object,
    headers: dict[str, str],
) -> None:
    """Without the right bearer token admin writes are a 401 with WWW-Authenticate."""
    response = send(client, method, path.format(id=product["id"]), body, headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert client.get(f"/api/products/{product['id']}/").get_json() == product
    assert row_counts(app) == (1, 1)


def test_bearer_scheme_is_case_insensitive(client: FlaskClient) -> None:
    """`bearer` in any case is the same scheme."""
    headers = {"Authorization": f"bearer {ADMIN_TOKEN}"}
    response = send(client, "post", "/api/products/", product_data(), headers=headers)
    assert response.status_code == 201


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_writes_disabled_without_token_setting(
    app: Flask,
    variant: Callable[..., Flask],
    product: dict[str, Any],
    method: str,
    path: str,
    body: object,
) -> None:
    """A server without STOREFRONT_ADMIN_TOKEN answers 403 saying how to enable writes."""
    closed = variant(STOREFRONT_ADMIN_TOKEN=None).test_client()
    response = send(closed, method, path.format(id=product["id"]), body)
    assert "STOREFRONT_ADMIN_TOKEN" in assert_problem(response, 403)["detail"]
    assert closed.get(f"/api/products/{product['id']}/").get_json() == product
    assert row_counts(app) == (1, 1)


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://evil.example", 403),
        ("null", 403),
        ("http://localhost:3000.evil.example", 403),
        ("http://localhost:3000", 201),
        ("http://localhost", 201),
    ],
)
def test_admin_post_origin(app: Flask, client: FlaskClient, origin: str, status: int) -> None:
    """A write from another site's page is a 403; the site's own and listed origins pass."""
    headers = {**AUTH, "Origin": origin}
    response = send(client, "post", "/api/products/", product_data(), headers=headers)
    if status == 403:
        assert_problem(response, 403)
        assert row_counts(app) == (0, 0)
    else:
        assert response.status_code == status


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("text/plain", json.dumps(product_data())),
        ("application/x-www-form-urlencoded", "name=x&price=1&category=y"),
        ("multipart/form-data; boundary=b", "--b--"),
        ("application/xml", "<product/>"),
        (None, json.dumps(product_data())),
    ],
    ids=["text", "form", "multipart", "xml", "no-type"],
)
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_non_json_bodies_are_415(
    app: Flask,
    client: FlaskClient,
    product: dict[str, Any],
    method: str,
    path: str,
    body: object,
    content_type: str | None,
    raw: str,
) -> None:
    """A write whose body is not application/json is a 415 and changes nothing."""
    url = path.format(id=product["id"])
    response = send(client, method, url, raw=raw, content_type=content_type)
    assert_problem(response, 415)
    assert client.get(f"/api/products/{product['id']}/").get_json() == product
    assert row_counts(app) == (1, 1)


def test_json_with_charset_is_json(client: FlaskClient) -> None:
    """`application/json; charset=utf-8` is JSON."""
    response = send(
        client,
        "post",
        "/api/products/",
        raw=json.dumps(product_data(), ensure_ascii=False).encode(),
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 201


# --- updating and deleting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Торшер"},
        {"description": ""},
        {"description": "Напольная"},
        {"price": "10.50"},
        {"price": 7},
        {"image": "/static/lamp.png"},
        {"image": None},
        {"image": ""},
        {"category": "Свет"},
        {"name": "Торшер", "price": 3000, "image": None},
        {},
    ],
)
def test_patch_changes_only_sent_fields(
    client: FlaskClient, product: dict[str, Any], change: dict[str, Any]
) -> None:
    """PATCH changes the fields sent, and nothing else."""
    path = f"/api/products/{product['id']}/"
    response = send(client, "patch", path, change)
    assert response.status_code == 200, response.get_data(as_text=True)
    expected = {**product, **change}
    if "price" in change:
        expected["price"] = float(Decimal(str(change["price"])))
    if change.get("image") == "":
        expected["image"] = None
    assert response.get_json() == expected
    assert client.get(path).get_json() == expected


@pytest.mark.parametrize("field", ["name", "description", "price", "category"])
def test_patch_null_is_422(client: FlaskClient, product: dict[str, Any], field: str) -> None:
    """Null for a required field is a 422 (leave it out to keep it)."""
    path = f"/api/products/{product['id']}/"
    assert_invalid(send(client, "patch", path, {field: None}), ["body", field])
    assert client.get(path).get_json() == product


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "н" * 201}, "name"),
        ({"price": "10.505"}, "price"),
        ({"price": 0}, "price"),
        ({"price": True}, "price"),
        ({"category": "к" * 101}, "category"),
        ({"image": "javascript:alert(1)"}, "image"),
        ({"description": "a\x00b"}, "description"),
        ({"id": 2**31}, "id"),
    ],
)
def test_patch_validates_like_create(
    client: FlaskClient, product: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    """PATCH refuses what create refuses, and changes nothing then."""
    path = f"/api/products/{product['id']}/"
    assert_invalid(send(client, "patch", path, {"name": "Торшер", **change}), ["body", field])
    assert client.get(path).get_json() == product


def test_patch_without_body_is_422(client: FlaskClient, product: dict[str, Any]) -> None:
    """A PATCH without a body is a 422 naming the body."""
    assert_invalid(send(client, "patch", f"/api/products/{product['id']}/"), ["body"])


def test_patch_category_creates_or_reuses(
    app: Flask, client: FlaskClient, product: dict[str, Any]
) -> None:
    """A new category name creates the category; another spelling reuses the existing one."""
    path = f"/api/products/{product['id']}/"
    other = create_product(client, name="Кресло", category="Мебель")
    moved = send(client, "patch", path, {"category": "Освещение"}).get_json()
    assert moved["category"] == "Освещение"
    categories = client.get("/api/categories/").get_json()
    assert {"name": "Освещение", "slug": "osveshchenie", "product_count": 1} in categories
    assert "Свет" not in [item["name"] for item in categories]
    joined = send(client, "patch", path, {"category": "МЕБЕЛЬ"}).get_json()
    assert joined["category"] == "Мебель"
    mebel = listing(client, {"category": "mebel"})
    assert ids(mebel) == [other["id"], product["id"]]
    assert row_counts(app)[1] == 3


def test_patch_name_updates_search_and_sort(client: FlaskClient, product: dict[str, Any]) -> None:
    """A renamed product is found, and sorted, by its new name."""
    create_product(client, name="Кресло")
    send(client, "patch", f"/api/products/{product['id']}/", {"name": "Абажур"})
    assert ids(listing(client, {"search": "абажур"})) == [product["id"]]
    assert listing(client, {"search": "Лампа"})["total"] == 0
    assert listing(client)["items"][0]["name"] == "Абажур"


def test_delete(client: FlaskClient, product: dict[str, Any]) -> None:
    """DELETE answers 204; the product is then 404, and a second DELETE is 404."""
    other = create_product(client, name="Кресло")
    path = f"/api/products/{product['id']}/"
    response = send(client, "delete", path)
    assert (response.status_code, response.get_data()) == (204, b"")
    assert_problem(client.get(path), 404)
    assert_problem(send(client, "delete", path), 404)
    assert ids(listing(client)) == [other["id"]]


def test_delete_removes_cart_lines(client: FlaskClient, product: dict[str, Any]) -> None:
    """A deleted product leaves the carts that held it."""
    added = client.post("/api/cart/", json={"product_id": product["id"], "quantity": 2})
    assert added.status_code == 201
    send(client, "delete", f"/api/products/{product['id']}/")
    cart = client.get("/api/cart/").get_json()
    assert (cart["items"], cart["total_quantity"], cart["total_price"]) == ([], 0, 0)


# --- bulk ---------------------------------------------------------------------------------------


def test_bulk_creates_in_order(app: Flask, client: FlaskClient) -> None:
    """Bulk answers 201 with the products in the order sent; categories are made as needed."""
    items = [
        product_data(name="Кресло", category="Мебель", price="17999.00"),
        product_data(name="Мышь", category="Электроника", price=2599.5),
        product_data(name="Стол", category="Мебель", image="/static/desk.png"),
    ]
    response = send(client, "post", "/api/products/bulk/", items)
    assert response.status_code == 201
    created = response.get_json()
    assert [(p["name"], p["category"]) for p in created] == [
        ("Кресло", "Мебель"),
        ("Мышь", "Электроника"),
        ("Стол", "Мебель"),
    ]
    assert price_tokens(response.get_data(as_text=True)) == ["17999", "2599.5", "100"]
    assert [p["id"] for p in created] == sorted(p["id"] for p in created)
    for item in created:
        assert client.get(f"/api/products/{item['id']}/").get_json() == item
    assert row_counts(app) == (3, 2)


def test_bulk_matches_categories_case_insensitively(app: Flask, client: FlaskClient) -> None:
    """Bulk entries join existing categories in any case; new spellings share one category."""
    create_product(client, category="Электроника")
    created = create_products(
        client,
        [
            product_data(category="ЭЛЕКТРОНИКА"),
            product_data(category="электроника"),
            product_data(category="Новая"),
            product_data(category="НОВАЯ"),
        ],
    )
    assert [p["category"] for p in created[:2]] == ["Электроника", "Электроника"]
    assert created[2]["category"] == created[3]["category"]
    assert created[2]["category"].lower() == "новая"
    assert row_counts(app) == (5, 2)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"price": "abc"}, "price"),
        ({"price": 0}, "price"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"category": "к" * 101}, "category"),
        ({"image": "ftp://x"}, "image"),
        ({"description": "a\x00b"}, "description"),
        ({"id": 2**31}, "id"),
    ],
)
def test_bulk_is_all_or_nothing(
    app: Flask, client: FlaskClient, bad: dict[str, Any], field: str
) -> None:
    """One bad entry is a 422 naming its index and field, and nothing is written."""
    create_product(client, category="Старая")
    before = row_counts(app)
    items = [product_data(name=f"Товар {n}", category=f"Новая {n}") for n in range(5)]
    items[2].update(bad)
    assert_invalid(send(client, "post", "/api/products/bulk/", items), ["body", 2, field])
    assert row_counts(app) == before


def test_bulk_names_every_bad_entry(app: Flask, client: FlaskClient) -> None:
    """Every bad entry of a bulk is listed with its index."""
    items = [product_data(name=f"Товар {n}") for n in range(5)]
    items[1]["price"] = "10.505"
    items[3]["name"] = ""
    response = send(client, "post", "/api/products/bulk/", items)
    assert_invalid(response, ["body", 1, "price"], ["body", 3, "name"])
    assert row_counts(app) == (0, 0)


@pytest.mark.parametrize(
    "raw",
    ["[]", "{}", json.dumps(product_data()), '"[]"', "null"],
    ids=["empty", "object", "one-product", "string", "null"],
)
def test_bulk_needs_a_non_empty_array(app: Flask, client: FlaskClient, raw: str) -> None:
    """A bulk body that is not an array of at least one product is a 422."""
    assert_invalid(send(client, "post", "/api/products/bulk/", raw=raw), ["body"])
    assert row_counts(app) == (0, 0)


def test_bulk_takes_1000_but_not_1001(app: Flask, client: FlaskClient) -> None:
    """1000 products in one bulk are fine; 1001 are a 422 and nothing is written."""
    items = [product_data(name=f"Товар {n}") for n in range(1001)]
    assert_invalid(send(client, "post", "/api/products/bulk/", items), ["body"])
    assert row_counts(app) == (0, 0)
    assert len(create_products(client, items[:1000])) == 1000
    assert listing(client)["total"] == 1000


def test_bulk_may_exceed_max_content_length(app: Flask, variant: Callable[..., Flask]) -> None:
    """Bulk bodies may pass MAX_CONTENT_LENGTH up to MAX_BULK_BYTES; other bodies may not."""
    small = variant(MAX_CONTENT_LENGTH=2000).test_client()
    items = [product_data(name=f"Товар {n}") for n in range(40)]
    assert len(json.dumps(items)) > 2000
    created = create_products(small, items)
    assert len(created) == 40
    big = product_data(description="д" * 1500)
    assert len(json.dumps(big)) > 2000
    assert_problem(send(small, "post", "/api/products/", big), 413)
    path = f"/api/products/{created[0]['id']}/"
    assert_problem(send(small, "patch", path, {"description": "д" * 1500}), 413)
    assert row_counts(app) == (40, 1)


def test_bulk_over_max_bulk_bytes_is_413(app: Flask, variant: Callable[..., Flask]) -> None:
    """A bulk body over MAX_BULK_BYTES is a 413 and nothing is written."""
    small = variant(MAX_CONTENT_LENGTH=2000, MAX_BULK_BYTES=8000).test_client()
    items = [product_data(name=f"Товар {n}") for n in range(200)]
    assert len(json.dumps(items)) > 8000
    assert_problem(send(small, "post", "/api/products/bulk/", items), 413)
    assert row_counts(app) == (0, 0)
