"""Hot statements sent straight to the driver (storefront/fastsql.py) answer as Core would.

On PostgreSQL the hot statements skip SQLAlchemy's execution (issue 13); these tests hold
them to the same answers, errors and connection handling as Core, on both databases.
"""

from __future__ import annotations

import importlib
import pkgutil
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import bindparam, exc, literal_column, select, text

import storefront
from storefront import fastsql, list_shapes
from storefront.catalog import _ORDERS, _PAGE_COLUMNS
from storefront.dbsession import read_connection
from storefront.extensions import db
from storefront.filters import ProductFilters
from tests.factories import create_products, product_data

# One pooled connection: what a read used is what the next write gets.
ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0}


def hot_statements() -> dict[str, fastsql.Statement]:
    """Every `fastsql.Statement` the app's modules define, by module and name."""
    found = {}
    for module_info in pkgutil.walk_packages(storefront.__path__, "storefront."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if isinstance(value, fastsql.Statement):
                found[f"{module_info.name}.{name}"] = value
    return found


def test_the_hot_statements_skip_core_on_postgresql(app: Flask, backend: str) -> None:
    """Each is sent straight to psycopg's cursor; on SQLite each goes through Core."""
    statements = hot_statements()
    assert len(statements) >= 10, sorted(statements)
    with app.app_context():
        dialect = db.engine.dialect
        for name, statement in statements.items():
            direct = fastsql._direct(statement.clause, dialect)
            assert (direct is not None) == (backend == "postgresql"), name


def test_a_page_reads_the_same_rows_as_through_core(app: Flask, client: FlaskClient) -> None:
    """A list's page (prices, a missing stock, Cyrillic names) equals Core's rows."""
    create_products(
        client,
        [
            product_data(name=f"Стул {n}", price=float(f"{n}.5{n}"), stock=None if n % 2 else n)
            for n in range(1, 8)
        ],
    )
    filters = ProductFilters(min_price=Decimal("2.5"), max_price=Decimal("6.6"), sort="price")
    shape = list_shapes.shape_of(filters, 0, 200)
    statements = list_shapes.statements(shape, _PAGE_COLUMNS, _ORDERS["price"])
    values = list_shapes.page_parameters(filters, [])
    with app.test_request_context("/api/products/"):
        direct = [tuple(row) for row in statements.page.rows(values)]
        core = [tuple(row) for row in db.session.execute(statements.page.clause, values)]
    assert direct == core
    assert [row[1] for row in direct] == [f"Стул {n}" for n in range(2, 7)]
    assert [row[3] for row in direct] == [Decimal(f"{n}.5{n}") for n in range(2, 7)]
    assert [row[6] for row in direct] == [2, None, 4, None, 6]


def test_values_written_in_a_statement_are_sent(app: Flask) -> None:
    """A literal in the statement (`> 0` binds its 0) reaches the database with it."""
    statement = fastsql.Statement(
        select(literal_column("1")).where(bindparam("a", 2) > 0, bindparam("b") > 1)
    )
    with app.test_request_context("/"):
        assert statement.scalar({"b": 5}) == 1
        assert statement.scalar({"b": 0}) is None


def test_a_database_error_is_sqlalchemys(app: Flask) -> None:
    """Errors come as SQLAlchemy's (what the 503 handler and callers catch), not the driver's."""
    statement = fastsql.Statement(text("SELECT missing FROM products WHERE id = :id"))
    with app.test_request_context("/"), pytest.raises(exc.DBAPIError):
        statement.scalar({"id": 1})


def test_statements_sent_together_see_each_others_writes(app: Flask) -> None:
    """Statements sent together (one pipeline on PostgreSQL) run in order in the request's
    transaction: each sees what the ones before wrote; a rollback undoes them all."""
    touch = fastsql.Statement(text("INSERT INTO carts (token) VALUES (:token) RETURNING id"))
    count = fastsql.Statement(text("SELECT count(*) FROM carts WHERE token = :token"))
    nothing = fastsql.Statement(text("SELECT id FROM carts WHERE token = 'nobody'"))
    with app.test_request_context("/", method="POST"):
        made, counted, none = fastsql.together(
            (touch, {"token": "t1"}), (count, {"token": "t1"}), (nothing, None)
        )
        assert made[0][0] > 0 and counted[0][0] == 1 and list(none) == []
        db.session.rollback()
        assert count.scalar({"token": "t1"}) == 0


def test_an_error_among_statements_sent_together_is_sqlalchemys(app: Flask) -> None:
    """A failing statement among others raises SQLAlchemy's error; the transaction then rolls
    back as after any error, and the connection serves the next statements."""
    touch = fastsql.Statement(text("INSERT INTO carts (token) VALUES (:token) RETURNING id"))
    broken = fastsql.Statement(text("SELECT missing FROM carts"))
    with app.test_request_context("/", method="POST"):
        with pytest.raises(exc.DBAPIError):
            fastsql.together((touch, {"token": "t2"}), (broken, None), (touch, {"token": "t3"}))
        db.session.rollback()
        assert fastsql.Statement(text("SELECT count(*) FROM carts")).scalar() == 0


_CARTS = fastsql.Statement(text("SELECT token FROM carts ORDER BY token"))
_TOUCH = fastsql.Statement(text("INSERT INTO carts (token) VALUES (:token) RETURNING id"))


def _tokens(app: Flask) -> list[str]:
    with app.test_request_context("/"):
        return [row[0] for row in _CARTS.rows()]


def test_a_transaction_commits_the_statements_and_the_sessions_together(app: Flask) -> None:
    """What the block's statements and the ORM session write lands as one, and each of them
    sees the other's writes before the commit."""
    with app.test_request_context("/", method="POST"):
        with fastsql.transaction():
            _TOUCH.scalar({"token": "direct"})
            db.session.execute(text("INSERT INTO carts (token) VALUES ('orm')"))
            assert [row[0] for row in _CARTS.rows()] == ["direct", "orm"]
            seen = db.session.execute(text("SELECT count(*) FROM carts")).scalar()
            assert seen == 2
        db.session.commit()  # the view's own commit afterwards has nothing left to do
    assert _tokens(app) == ["direct", "orm"]


def test_a_transaction_that_raises_leaves_nothing(app: Flask) -> None:
    """An error in the block (a refused cart change) undoes every write of it."""
    with (
        app.test_request_context("/", method="POST"),
        pytest.raises(LookupError),
        fastsql.transaction(),
    ):
        _TOUCH.scalar({"token": "direct"})
        db.session.execute(text("INSERT INTO carts (token) VALUES ('orm')"))
        raise LookupError("refused")
    assert _tokens(app) == []


def test_a_transaction_goes_on_in_the_sessions_own(app: Flask) -> None:
    """When the session already began a transaction, the block writes in it: its writes and
    the session's earlier ones land together or not at all."""
    with app.test_request_context("/", method="POST"):
        db.session.execute(text("INSERT INTO carts (token) VALUES ('before')"))
        with pytest.raises(LookupError), fastsql.transaction():
            _TOUCH.scalar({"token": "inside"})
            raise LookupError("refused")
    assert _tokens(app) == []
    with app.test_request_context("/", method="POST"):
        db.session.execute(text("INSERT INTO carts (token) VALUES ('before')"))
        with fastsql.transaction():
            _TOUCH.scalar({"token": "inside"})
    assert _tokens(app) == ["before", "inside"]


def test_a_transactions_connection_goes_back(app: Flask) -> None:
    """Committed or not, the block's connection is back in the pool when it ends."""
    with app.app_context():
        pool = db.engine.pool
        before = pool.checkedout()
    for n in range(20):
        with app.test_request_context("/", method="POST"):
            with pytest.raises(LookupError), fastsql.transaction():
                _TOUCH.scalar({"token": f"t{n}"})
                db.session.execute(text("SELECT 1"))
                raise LookupError("refused")
            with fastsql.transaction():
                _TOUCH.scalar({"token": f"t{n}"})
    with app.app_context():
        assert pool.checkedout() == before
    assert len(_tokens(app)) == 20


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_connection_goes_back_when_the_request_ends(app: Flask, method: str) -> None:
    """A read-only request's own connection, or the session's, is back in the pool after it."""
    statement = fastsql.Statement(text("SELECT :n"))
    with app.app_context():
        pool = db.engine.pool
        before = pool.checkedout()
    for n in range(20):
        with app.test_request_context("/", method=method):
            assert statement.scalar({"n": n}) == n
    with app.app_context():
        assert pool.checkedout() == before


KEEP = {"READ_CONNECTION_PER_THREAD": True}


@pytest.mark.parametrize("app_settings", [KEEP])
def test_a_thread_keeps_one_read_connection_and_gives_it_back_to_write(
    app: Flask, client: FlaskClient
) -> None:
    """With READ_CONNECTION_PER_THREAD (gunicorn's setting) reads keep one connection between
    requests; a write gives it back first, so the thread never holds two."""
    with app.app_context():
        pool = db.engine.pool
        before = pool.checkedout()
    for _ in range(20):
        assert client.get("/api/products/").status_code == 200
        assert pool.checkedout() == before + 1
    assert client.post("/api/cart/", json={"product_id": 1}).status_code == 404
    assert pool.checkedout() == before
    assert client.get("/api/cart/").status_code == 200
    assert pool.checkedout() == before + 1


@pytest.mark.parametrize("app_settings", [{**KEEP, "SQLALCHEMY_ENGINE_OPTIONS": ONE_CONNECTION}])
def test_a_kept_read_connection_never_starves_a_write(app: Flask, client: FlaskClient) -> None:
    """On a pool of one connection, reads and writes (in requests and outside) take turns."""
    product = create_products(client, [product_data(name="Стул", stock=5)])[0]
    for _ in range(3):
        assert client.get(f"/api/products/{product['id']}/").status_code == 200
        assert client.post("/api/cart/", json={"product_id": product["id"]}).status_code == 201
        assert client.get("/api/cart/").get_json()["total_quantity"] >= 1
        with app.app_context():
            assert db.session.execute(text("SELECT count(*) FROM carts")).scalar() == 1
            db.session.rollback()


@pytest.mark.parametrize("app_settings", [KEEP])
def test_a_lost_kept_connection_costs_one_request(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    """The database ends the kept connection (a restart, an operator): the next read answers
    503, as a pooled connection's would, and the one after is served on a fresh connection."""
    if backend != "postgresql":
        pytest.skip("SQLite has no server connection to lose")
    pid = fastsql.Statement(text("SELECT pg_backend_pid()"))
    with app.test_request_context("/"):
        first = pid.scalar()
    with app.test_request_context("/"):
        assert pid.scalar() == first  # kept
    with app.app_context(), db.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    assert client.get("/api/products/").status_code == 503
    assert client.get("/api/products/").status_code == 200
    with app.test_request_context("/"):
        assert pid.scalar() != first


@pytest.mark.parametrize("app_settings", [{"SQLALCHEMY_ENGINE_OPTIONS": ONE_CONNECTION}])
def test_a_write_after_a_read_on_the_same_connection_is_a_transaction(app: Flask) -> None:
    """A read-only request's connection runs in autocommit; the write that gets it next from
    the pool (here the only one) must not: its rollback leaves nothing half-written."""
    statement = fastsql.Statement(text("SELECT count(*) FROM carts"))

    def write_then_fail() -> None:
        with app.app_context():
            db.session.execute(text("INSERT INTO carts (token) VALUES ('half-written')"))
            db.session.rollback()
            assert statement.scalar() == 0

    with app.test_request_context("/", method="GET"):
        assert statement.scalar() == 0
    write_then_fail()
    # Given back without the request's teardown (a hook before it raised): the pool resets it.
    with app.test_request_context("/", method="GET"):
        connection = read_connection(db.engine)
        assert fastsql.Statement(text("SELECT 1")).scalar(connection=connection) == 1
        connection.close()
    write_then_fail()


def test_the_statements_kept_per_shape_are_bounded(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches of ever new shapes (word counts) keep at most the bound, and still answer."""
    from storefront import catalog

    create_products(client, [product_data(name="Красный синий зелёный стул")])
    monkeypatch.setattr(catalog, "_SEARCH_PAGES", fastsql.Shapes(limit=2))
    for words in ("стул", "синий стул", "красный синий стул", "зелёный красный синий стул"):
        found = client.get("/api/products/", query_string={"search": words}).get_json()
        assert [item["name"] for item in found["items"]] == ["Красный синий зелёный стул"]
        assert len(catalog._SEARCH_PAGES) <= 2
