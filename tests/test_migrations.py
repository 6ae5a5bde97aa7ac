"""Migrations: an empty database upgrades to exactly the models, and back down again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import make_app, postgres_url, private_postgres

MIGRATIONS = str(Path(__file__).parent.parent / "migrations")
TABLES = {"categories", "products", "carts", "cart_items", "alembic_version"}


def alembic_config(app: Flask) -> Config:
    """The Alembic config Flask-Migrate uses for `app`."""
    return app.extensions["migrate"].migrate.get_config(MIGRATIONS)


def test_upgraded_database_matches_the_models(app: Flask) -> None:
    """`flask db check`: autogenerate finds nothing to change after upgrading."""
    with app.app_context():
        command.check(alembic_config(app))


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path):
    """An empty database of the current backend, not yet migrated."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    with private_postgres(postgres_url(), suffix="_fresh") as url:
        yield url


def test_downgrade_to_base_and_up_again(fresh_url: str) -> None:
    """Downgrade removes every table; upgrading again restores them."""
    app = make_app(fresh_url)
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        downgrade(directory=MIGRATIONS, revision="base")
        from storefront.extensions import db

        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=MIGRATIONS)
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        db.engine.dispose()


QUEUE_UNRENDERED = text(
    "INSERT INTO outbox (created_at, kind, recipient, message_id, attempts, next_attempt_at)"
    " VALUES (:now, 'order_placed', 'ivan@example.com', '<1@storefront.test>', 0, :now)"
)


def test_downgrade_waits_for_mail_still_to_be_rendered(fresh_url: str) -> None:
    """Before 0008 a mail had to be rendered when queued: going back is refused while a new
    order's mail waits to be rendered (the old code would send it empty), and goes through
    once it has been sent."""
    app = make_app(fresh_url)
    with app.app_context():
        from storefront.extensions import db

        upgrade(directory=MIGRATIONS)
        with db.engine.begin() as connection:
            connection.execute(QUEUE_UNRENDERED, {"now": datetime.now(UTC)})
        with pytest.raises(RuntimeError, match="deliver them first"):
            command.downgrade(alembic_config(app), "0007")
        with db.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1
            connection.execute(text("UPDATE outbox SET sent_at = next_attempt_at"))
        downgrade(directory=MIGRATIONS, revision="0007")
        with db.engine.connect() as connection:
            row = connection.execute(text("SELECT subject, body_text FROM outbox")).one()
        assert tuple(row) == ("", "")
        upgrade(directory=MIGRATIONS)
        db.engine.dispose()


def test_postgres_without_utf8_ctype_is_refused(backend: str) -> None:
    """Under LC_CTYPE=C Cyrillic search would silently fail, so the migration refuses."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    with private_postgres(postgres_url(), suffix="_cctype", ctype="C") as url:
        app = make_app(url)
        with app.app_context(), pytest.raises(RuntimeError, match="LC_CTYPE"):
            command.upgrade(alembic_config(app), "head")
        from storefront.extensions import db

        with app.app_context():
            db.engine.dispose()


BAD_WRITES = [
    "INSERT INTO products (name, description, price, category_id, name_key, search_text) "
    "VALUES ('x', '', 0, 1, 'x', 'x')",
    "INSERT INTO products (name, description, price, category_id, name_key, search_text) "
    "VALUES ('x', '', -1, 1, 'x', 'x')",
    "INSERT INTO products (name, description, price, category_id, name_key, search_text) "
    "VALUES ('', '', 1, 1, '', '')",
    "INSERT INTO products (name, description, price, category_id, name_key, search_text) "
    "VALUES ('x', '', 1, 999, 'x', 'x')",
    "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 1, 0)",
    "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 1, 100)",
    "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 1, 1)",
    "INSERT INTO categories (name, name_key, slug) VALUES ('Другая', 'другая', 'kategoriia')",
]


@pytest.mark.parametrize("statement", BAD_WRITES)
def test_schema_refuses_bad_data(app: Flask, database_url: str, statement: str) -> None:
    """Constraints live in the schema: no code path can write these rows."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA foreign_keys = ON"))
        connection.execute(
            text("INSERT INTO categories (name, name_key, slug) VALUES ('К', 'к', 'kategoriia')")
        )
        connection.execute(
            text(
                "INSERT INTO products (name, description, price, category_id, name_key, "
                "search_text) VALUES ('x', '', 1, 1, 'x', 'x')"
            )
        )
        connection.execute(text("INSERT INTO carts (token) VALUES ('t')"))
        connection.execute(
            text("INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 1, 1)")
        )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA foreign_keys = ON"))
        connection.execute(text(statement))
    engine.dispose()


def test_deleting_a_product_removes_its_cart_lines(app: Flask, database_url: str) -> None:
    """ON DELETE CASCADE from products to cart lines (and from carts to their lines)."""
    with app.app_context():
        from storefront.extensions import db

        db.session.execute(
            text("INSERT INTO categories (name, name_key, slug) VALUES ('К', 'к', 'k')")
        )
        db.session.execute(
            text(
                "INSERT INTO products (name, description, price, category_id, name_key, "
                "search_text) VALUES ('x', '', 1, 1, 'x', 'x')"
            )
        )
        db.session.execute(text("INSERT INTO carts (token) VALUES ('t')"))
        db.session.execute(
            text("INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 1, 3)")
        )
        db.session.execute(text("DELETE FROM products"))
        assert db.session.execute(text("SELECT count(*) FROM cart_items")).scalar_one() == 0
        db.session.commit()
