"""What a request costs in statements sent to the database (issue 5's hot paths).

Each statement is a round trip. These tests catch the ones nobody needs: a transaction
(`BEGIN` before a read, `ROLLBACK` after it) and category lookups that the cache should answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from storefront.extensions import db
from tests.factories import create_products, product_data


@dataclass(frozen=True)
class Sent:
    """One statement as it reached the driver, and whether it ran outside a transaction."""

    sql: str
    autocommit: bool


def _autocommit(dbapi_connection: Any) -> bool:
    if hasattr(dbapi_connection, "autocommit") and not hasattr(dbapi_connection, "total_changes"):
        return bool(dbapi_connection.autocommit)  # psycopg
    return dbapi_connection.isolation_level is None  # sqlite3


@contextmanager
def sent(app: Flask) -> Iterator[list[Sent]]:
    """Record every statement the app sends while the block runs."""
    statements: list[Sent] = []

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(Sent(statement, _autocommit(conn.connection.dbapi_connection)))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def product_id(client: FlaskClient) -> int:
    """One product, in the category "Мебель"."""
    return create_products(client, [product_data(name="Стул", category="Мебель")])[0]["id"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/products/{id}/",
        "/api/products/?category=mebel&sort=price",
        "/api/products/?search=стул",
        "/api/cart/",
        "/api/categories/",
        "/?category=mebel",
        "/products/{id}",
        "/cart",
    ],
)
def test_reads_send_no_transaction(
    app: Flask, client: FlaskClient, product_id: int, path: str
) -> None:
    """A GET costs only its queries: no BEGIN before them, no ROLLBACK after them."""
    client.post("/api/cart/", json={"product_id": product_id})
    with sent(app) as statements:
        response = client.get(path.format(id=product_id))
    assert response.status_code == 200, response.data[:300]
    assert statements, "the read sent nothing"
    assert all(s.autocommit for s in statements), [s.sql for s in statements]


def test_cart_writes_run_in_one_transaction(
    app: Flask, client: FlaskClient, product_id: int
) -> None:
    """An add is one transaction (its first statement locks the cart until commit)."""
    with sent(app) as statements:
        assert client.post("/api/cart/", json={"product_id": product_id}).status_code == 201
    assert len(statements) >= 2
    assert not any(s.autocommit for s in statements), [s.sql for s in statements]


def test_a_category_is_looked_up_once(app: Flask, client: FlaskClient, product_id: int) -> None:
    """Filtering by a known category sends no category lookup; a new category is found at once."""

    def lookups(path: str) -> int:
        with sent(app) as statements:
            response = client.get(path)
        assert response.status_code == 200
        assert response.get_json()["total"] == 1, response.get_json()
        return sum("FROM categories" in s.sql for s in statements)

    assert lookups("/api/products/?category=mebel") == 1
    assert lookups("/api/products/?category=mebel") == 0
    assert lookups("/api/products/?category=МЕБЕЛЬ") == 0, "the name and the slug share an entry"
    create_products(client, [product_data(name="Лампа", category="Свет")])
    assert lookups("/api/products/?category=Свет") == 1
    assert lookups("/api/products/?category=svet") == 0


def test_a_cached_total_costs_no_statement_of_its_own(app: Flask, client: FlaskClient) -> None:
    """A full page whose total is cached sends the page alone, which reads the catalog version
    too; after a write (through any process) the next such page counts again."""
    create_products(client, [product_data(name=f"Стул {n}", category="Мебель") for n in range(3)])

    def statements(path: str) -> list[str]:
        with sent(app) as recorded:
            assert client.get(path).status_code == 200
        return [s.sql for s in recorded]

    for path in ("/api/products/?category=mebel&limit=1", "/?search=стул&limit=1"):
        counted = statements(path)
        assert any(sql.lstrip().startswith("SELECT count(") for sql in counted), counted
        cached = [sql for sql in statements(path) if "FROM products" in sql]
        assert len(cached) == 1 and "catalog_version" in cached[0], cached
    create_products(client, [product_data(name="Стол", category="Мебель")])
    again = statements("/api/products/?category=mebel&limit=1")
    assert any(sql.lstrip().startswith("SELECT count(") for sql in again), again
