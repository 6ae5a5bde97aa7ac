"""The settings the app's PostgreSQL sessions run with, directly and through PgBouncer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from storefront.config import ConfigError
from storefront.extensions import db
from tests.conftest import make_app, postgres_url, private_postgres


@pytest.fixture
def own_database(backend: str) -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (its settings are changed)."""
    if backend != "postgresql":
        pytest.skip("session settings are PostgreSQL's")
    with private_postgres(postgres_url(), "_settings") as url:
        yield url


def session_settings(url: str, **overrides: object) -> dict[str, object]:
    """What an app connection of `make_app(url, **overrides)` runs with."""
    app = make_app(url, **overrides)
    with app.app_context():
        connection = db.session.connection()
        shown = {
            name: connection.exec_driver_sql(f"SHOW {name}").scalar_one()
            for name in ("statement_timeout", "lock_timeout", "max_parallel_workers_per_gather")
        }
        shown["prepare_threshold"] = connection.connection.driver_connection.prepare_threshold
        db.session.rollback()
        db.engine.dispose()
    return shown


def test_direct_connections_bring_their_settings(own_database: str) -> None:
    """Connected directly, the app sets its own timeouts and planner settings at connect."""
    shown = session_settings(own_database, STATEMENT_TIMEOUT_MS=1500)
    assert shown["statement_timeout"] == shown["lock_timeout"] == "1500ms"
    assert shown["max_parallel_workers_per_gather"] == "0"
    assert shown["prepare_threshold"] == 5  # psycopg's default: repeated statements prepared


def test_through_pgbouncer_the_database_carries_them(own_database: str) -> None:
    """DATABASE_POOLER=pgbouncer sends no startup `options` (PgBouncer refuses them) and
    prepares nothing on the server; the settings come from the role or database, as the
    docs/deploying.md says to set them."""
    admin = create_engine(own_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = connection.exec_driver_sql("SELECT current_database()").scalar_one()
        for setting in ("statement_timeout = '4s'", "max_parallel_workers_per_gather = 0"):
            connection.execute(text(f'ALTER DATABASE "{name}" SET {setting}'))
    admin.dispose()
    shown = session_settings(own_database, STATEMENT_TIMEOUT_MS=1500, DATABASE_POOLER="pgbouncer")
    assert shown["statement_timeout"] == "4s", "the database's setting, not the app's"
    assert shown["lock_timeout"] == "0", "no startup options were sent"
    assert shown["max_parallel_workers_per_gather"] == "0"
    assert shown["prepare_threshold"] is None


def test_an_unknown_pooler_refuses_to_start(database_url: str) -> None:
    """A typo in DATABASE_POOLER stops the start instead of connecting the wrong way."""
    with pytest.raises(ConfigError, match="DATABASE_POOLER"):
        make_app(database_url, DATABASE_POOLER="pgbouncr")
