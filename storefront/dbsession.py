"""The app's database session: requests that only read run without a transaction.

A GET in a transaction costs two extra round trips per request (`BEGIN` before the first
query, `ROLLBACK` when the session closes) and buys nothing: under READ COMMITTED every
statement sees its own snapshot either way. So during a GET, HEAD or OPTIONS request the
session binds to the same engine in autocommit mode (same pool; psycopg flips a flag, no
round trip). Writes never happen on those methods but one, which needs no transaction: a
common search keeps its matches for every process (`match_counts`, one autocommit upsert). The
CLI and other methods keep transactions.

The hot reads (`fastsql`) take their connection through `read_connection`, which sets psycopg's
flag itself: SQLAlchemy's isolation-level option on the twin engine costs ~20 µs per checkout
(it sets the level on checkout and resets it on return). A connection it flipped leaves
autocommit when it goes back to the pool (`_leave_autocommit`), whichever way it gets there (a
teardown that never ran included), so a write never gets a connection without transactions.

With `READ_CONNECTION_PER_THREAD` (on under gunicorn.conf.py, whose threads live as long as
their worker) a thread keeps its read connection from one read-only request to the next, as
the lean baseline keeps one connection per thread: taking it from the pool and giving it back
was ~9 % of a worker's Python time on a product's detail under load (py-spy; the pool's
checkout and checkin, and the autocommit switch both ways). It gives the kept one back before
any write (`release_read_connection`), so a thread holds no more connections than before. When
the pool invalidates any connection (a lost database), every kept one is given back at its next
use, as the pool itself would replace its own, so a restart costs each thread one failed
request at most. Off, the connection goes back at the end of each request (a server whose
threads serve one request each, like the development server, would otherwise leave them
behind).
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context, request
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.pool import Pool

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# In `g` while `fastsql.transaction()` runs a request's writes on a Core connection of its own.
WRITE_CONNECTION = "storefront_write_connection"
_AUTOCOMMIT_KEY = "storefront.autocommit"
# Marks a pooled connection `read_connection` put in autocommit, until it is back in the pool.
_IN_AUTOCOMMIT = "storefront.in_autocommit"


def autocommit_engine(engine: sa.engine.Engine) -> sa.engine.Engine:
    """The engine's autocommit twin, made once (it shares the engine's pool)."""
    twin = engine.__dict__.get(_AUTOCOMMIT_KEY)
    if twin is None:
        twin = engine.execution_options(isolation_level="AUTOCOMMIT")
        engine.__dict__[_AUTOCOMMIT_KEY] = twin
    return twin


def read_connection(engine: sa.engine.Engine) -> sa.engine.Connection:
    """A pooled connection in autocommit, for a request that only reads."""
    if engine.dialect.driver != "psycopg":
        return autocommit_engine(engine).connect()
    connection = engine.connect()
    pooled = connection.connection
    pooled.dbapi_connection.autocommit = True  # type: ignore[union-attr]
    pooled.info[_IN_AUTOCOMMIT] = True
    return connection


class _Kept(threading.local):
    """This thread's kept read connection, and the invalidation count it was taken at."""

    connection: sa.engine.Connection | None = None
    generation = 0


_kept = _Kept()
# Bumped whenever any pool invalidates a connection: kept connections taken before are stale.
_generation = 0


def kept_read_connection(engine: sa.engine.Engine) -> sa.engine.Connection:
    """This thread's read connection on `engine`, kept for its next read-only request."""
    connection = _kept.connection
    if connection is not None:
        if (
            connection.engine is engine
            and _kept.generation == _generation
            and not connection.invalidated
            and not connection.closed
        ):
            return connection
        release_read_connection()
    generation = _generation  # before the checkout: an invalidation during it makes it stale
    connection = read_connection(engine)
    _kept.connection, _kept.generation = connection, generation
    return connection


def is_kept(connection: sa.engine.Connection) -> bool:
    """Whether `connection` is this thread's kept read connection."""
    return connection is _kept.connection


def release_read_connection() -> None:
    """Give this thread's kept read connection back to its pool, if it keeps one."""
    connection = _kept.connection
    if connection is None:
        return
    _kept.connection = None
    if connection.closed:
        return
    if _kept.generation != _generation:
        # Maybe broken (the database restarted): close it rather than pool it.
        connection.invalidate()
    connection.close()


@sa.event.listens_for(Pool, "invalidate")
def _retire_kept(_dbapi_connection: Any, _record: Any, _exception: Any) -> None:
    """A pool invalidated a connection: every thread gives its kept one back at next use."""
    global _generation
    _generation += 1


@sa.event.listens_for(Pool, "checkin")
def _leave_autocommit(dbapi_connection: Any, record: Any) -> None:
    """Return a connection `read_connection` put in autocommit to the pool without it."""
    if not record.info.pop(_IN_AUTOCOMMIT, False) or dbapi_connection is None:
        return
    try:
        dbapi_connection.autocommit = False
    except Exception as error:  # a broken connection: never hand it out again
        record.invalidate(error)


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, in autocommit while a read-only request is served."""

    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: sa.engine.Engine | sa.engine.Connection | None = None,
        **kwargs: Any,
    ) -> sa.engine.Engine | sa.engine.Connection:
        """The engine for this statement: its autocommit twin during GET/HEAD/OPTIONS, the
        connection of `fastsql.transaction()` while one runs (joined, left for it to commit)."""
        engine = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if not isinstance(engine, sa.engine.Engine):
            return engine
        if has_request_context() and request.method in READ_ONLY_METHODS:
            return autocommit_engine(engine)
        release_read_connection()  # one connection per thread: a write needs its own
        written: sa.engine.Connection | None = g.get(WRITE_CONNECTION)
        return written if written is not None and written.engine is engine else engine
