"""The catalog's version: what lets every process's caches see every process's writes at once.

Every write that changes products or categories calls `bump_catalog_version()` in its own
transaction, so the new version commits with the change (a rolled-back write bumps nothing).
A cached read compares the version it reads with the one its cached value was made at.

The read costs no round trip of its own: `CURRENT` is a scalar subquery added to the page
query that a list sends anyway (PostgreSQL runs it once per statement, as an InitPlan, beside
the page's own plan). The version must be read no later than the value it tags is computed:
a total counted after the version was read can only be newer than the version says, which the
next change of version corrects; a version read after the count could tag an old total as new.

The single row serialises catalog writes from the bump to their commit; admin writes and seeds
are rare. Bump before the write's first row lock, so that writes only ever wait for each other
at the version row, never in opposite orders elsewhere. A frequent write (stock taken by every
checkout) should bump only when a cached read depends on what it changes.
"""

from __future__ import annotations

from sqlalchemy import ScalarSelect, select, text

from . import fastsql
from .extensions import db
from .models import CatalogVersion

BUMP = text("UPDATE catalog_version SET version = version + 1")
# The table's column, not the mapped attribute: an ORM attribute would make every SELECT it
# joins go through the ORM's compile and load steps (~100 µs a list request).
_VERSION = CatalogVersion.__table__.c.version
_READ = select(_VERSION)
CURRENT: ScalarSelect[int] = _READ.scalar_subquery()
_READ_NOW = fastsql.Statement(_READ)


def bump_catalog_version() -> None:
    """Count one more catalog change, in the session's transaction (before its row locks)."""
    db.session.execute(BUMP)


def read_catalog_version() -> int | None:
    """The committed version (None without its row: nothing may then be cached)."""
    return _READ_NOW.scalar()
