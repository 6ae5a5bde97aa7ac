"""The app's database session: requests that only read run without a transaction.

A GET in a transaction costs two extra round trips per request (`BEGIN` before the first
query, `ROLLBACK` when the session closes) and buys nothing: under READ COMMITTED every
statement sees its own snapshot either way. So during a GET, HEAD or OPTIONS request the
session binds to the same engine in autocommit mode (same pool; psycopg flips a flag, no
round trip). Writes never happen on those methods but one, which needs no transaction: a
common search keeps its matches for every process (`match_counts`, one autocommit upsert). The
CLI and other methods keep transactions.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_sqlalchemy.session import Session as FlaskSession

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_AUTOCOMMIT_KEY = "storefront.autocommit"


def autocommit_engine(engine: sa.engine.Engine) -> sa.engine.Engine:
    """The engine's autocommit twin, made once (it shares the engine's pool)."""
    twin = engine.__dict__.get(_AUTOCOMMIT_KEY)
    if twin is None:
        twin = engine.execution_options(isolation_level="AUTOCOMMIT")
        engine.__dict__[_AUTOCOMMIT_KEY] = twin
    return twin


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, in autocommit while a read-only request is served."""

    def get_bind(
        self,
        mapper: Any | None = None,
        clause: Any | None = None,
        bind: sa.engine.Engine | sa.engine.Connection | None = None,
        **kwargs: Any,
    ) -> sa.engine.Engine | sa.engine.Connection:
        """The engine for this statement; its autocommit twin during GET/HEAD/OPTIONS."""
        engine = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if (
            isinstance(engine, sa.engine.Engine)
            and has_request_context()
            and request.method in READ_ONLY_METHODS
        ):
            return autocommit_engine(engine)
        return engine
