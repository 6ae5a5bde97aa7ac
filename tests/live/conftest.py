"""Fixtures of the live tests: the PostgreSQL database that every server they start shares."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url


@pytest.fixture(scope="module")
def postgres(database_url: str) -> str:
    """The migrated PostgreSQL database that every instance shares."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("several instances share one PostgreSQL: not tested on SQLite")
    return database_url
