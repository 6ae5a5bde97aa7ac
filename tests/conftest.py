"""Fixtures: every database test runs on PostgreSQL (TEST_DATABASE_URL) and on SQLite.

Each database is migrated once per session with the real migrations (no create_all), and
emptied after each test, so every test starts from an empty, fully constrained schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from storefront import create_app
from storefront.catalog_version import BUMP
from storefront.config import normalise_database_url

# The last line of scripts/run-tests: which suites were skipped for want of a system tool.
pytest_plugins = ["tests.missing_tools"]

ADMIN_TOKEN = "test-admin-token-0123456789"
TABLES = (
    "password_resets",
    "sign_ins",
    "outbox",
    "idempotency_keys",
    "order_lines",
    "orders",
    "cart_items",
    "carts",
    "products",
    "categories",
    "customers",
    "search_matches",
)
BACKENDS = ("postgresql", "sqlite")


def postgres_url() -> str:
    """The PostgreSQL the suite runs on; `make test` starts a throwaway one."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        pytest.fail(
            "TEST_DATABASE_URL is not set: run `make test`, which starts a throwaway "
            "PostgreSQL, or point TEST_DATABASE_URL at an empty UTF-8 database."
        )
    return normalise_database_url(url)


@contextmanager
def private_postgres(base_url: str, suffix: str = "", ctype: str = "C.UTF-8") -> Iterator[str]:
    """A database of our own next to TEST_DATABASE_URL's, so parallel runs never collide.

    Without the right to create databases, the given database itself is emptied and used.
    """
    base = make_url(base_url)
    name = f"{base.database}_{os.getpid()}{suffix}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(
                text(
                    f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                    f"LC_COLLATE '{ctype}' LC_CTYPE '{ctype}'"
                )
            )
    except ProgrammingError:
        with admin.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        admin.dispose()
        yield base_url
        return
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest migration."""
    app = make_app(url)
    with app.app_context():
        upgrade(directory=str(Path(__file__).parent.parent / "migrations"))
        from storefront.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each backend, made once per test session."""
    if request.param == "postgresql":
        with private_postgres(postgres_url()) as url:
            migrate(url)
            yield url
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'storefront.sqlite3'}"
        migrate(url)
        yield url


def make_app(url: str, **overrides: object) -> Flask:
    """An app on `url` with test settings (and `overrides`)."""
    settings: dict[str, object] = {
        "TESTING": True,
        "STOREFRONT_ENV": "testing",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": url,
        "STOREFRONT_ADMIN_TOKEN": ADMIN_TOKEN,
        "CORS_ORIGINS": ["http://localhost:3000"],
    }
    settings.update(overrides)
    return create_app(settings)


def empty_tables(url: str) -> None:
    """Delete every row and restart the ids; servers still running see a new catalog version."""
    engine = create_engine(url)
    with engine.begin() as connection:
        if make_url(url).get_backend_name() == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(BUMP)
    engine.dispose()


@pytest.fixture
def backend(database_url: str) -> str:
    """`postgresql` or `sqlite`."""
    return make_url(database_url).get_backend_name()


@pytest.fixture
def app_settings() -> dict[str, object]:
    """Settings over the test ones for `app`; a module overrides this fixture to change them."""
    return {}


@pytest.fixture
def app(database_url: str, app_settings: dict[str, object]) -> Iterator[Flask]:
    """The app on a clean database; tables are emptied afterwards."""
    app = make_app(database_url, **app_settings)
    yield app
    with app.app_context():
        from storefront.extensions import db

        db.session.remove()
        db.engine.dispose()
    empty_tables(database_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (one browser session: it keeps cookies)."""
    return app.test_client()


@pytest.fixture
def admin() -> dict[str, str]:
    """Headers of an admin request."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def demo(client: FlaskClient, app: Flask) -> dict[str, int]:
    """The demo catalog loaded through the CLI; maps product name to id."""
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    items = client.get("/api/products/?limit=100").get_json()["items"]
    return {item["name"]: item["id"] for item in items}
