"""Hot statements, compiled once and run straight on the session connection's DBAPI cursor.

SQLAlchemy's execution of an already cached statement still costs ~200 µs of CPU (session
bookkeeping, the cache key, result metadata, `Row` objects): as much as the round trip it
wraps, and a third of a product detail's time. A `Statement` is compiled once per dialect
and, on PostgreSQL through psycopg, its SQL and parameters go to the cursor of the session's
connection as they are: in the session's transaction for a write, in autocommit for a
read-only request (`dbsession`), as any other statement of the request.

That is only done when nothing is lost by it: psycopg adapts and returns the types these
statements use (integers, text, numeric as `Decimal`, timestamps, booleans) as SQLAlchemy would,
so a statement whose parameters or columns have any other type, or that needs SQLAlchemy's
compile-time rendering (expanding `IN`, literal values), runs through the session as before.
So does every statement on SQLite, whose driver needs SQLAlchemy's conversions (no `Decimal`),
and every statement while an engine event listens to what is sent. Rows come back as tuples
or `Row`s: read them by position.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Flask, current_app, g, has_request_context, request
from psycopg import pq
from sqlalchemy import types
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.elements import ClauseElement

from .dbsession import (
    READ_ONLY_METHODS,
    WRITE_CONNECTION,
    is_kept,
    kept_read_connection,
    read_connection,
    release_read_connection,
)
from .extensions import db

_READ_CONNECTION = "storefront_read_connection"
_TUPLES_OK = pq.ExecStatus.TUPLES_OK

# Types psycopg returns and accepts exactly as SQLAlchemy would hand them over (no processor).
_PLAIN_TYPES = (
    types.Integer,
    types.String,
    types.DateTime,
    types.Boolean,
    types.NullType,
)


def _plain(type_: types.TypeEngine[Any]) -> bool:
    if isinstance(type_, types.Numeric) and not isinstance(type_, types.Float):
        return bool(type_.asdecimal)
    return isinstance(type_, _PLAIN_TYPES)


@dataclass(frozen=True, slots=True)
class _Direct:
    """What goes to the cursor: the SQL, and the values the statement itself holds."""

    sql: str
    # Values written in the statement (`product_count > 0` binds its 0), merged under the
    # caller's parameters; empty for most statements.
    fixed: dict[str, Any]

    def parameters(self, params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        return {**self.fixed, **(params or {})} if self.fixed else params


def _direct(clause: ClauseElement, dialect: Dialect) -> _Direct | None:
    """How to send `clause` straight to the cursor; None when it must go through Core."""
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return None
    compiled = clause.compile(dialect=dialect)
    if compiled.positional or compiled.literal_execute_params or compiled.post_compile_params:
        return None
    if not all(_plain(bind.type) for bind in compiled.binds.values()):
        return None
    columns = getattr(clause, "selected_columns", ())
    if not all(_plain(column.type) for column in columns):
        return None
    fixed = {name: bind.value for bind, name in compiled.bind_names.items() if not bind.required}
    return _Direct(compiled.string, fixed)


def _rows(cursor: Any) -> list[Any]:
    """The rows of the statement `cursor` ran; none when it returns none (no RETURNING).

    Asked of the result, as `cursor.description` decides it, without the `Column` per column
    that `description` builds to answer (~4 µs for a product's seven).
    """
    result = cursor.pgresult
    if result is None or not (result.nfields or result.status == _TUPLES_OK):
        return []
    return cursor.fetchall()


def _connection() -> Connection:
    """The connection this request's statements run on (see the module's docstring)."""
    if not has_request_context():
        return db.session.connection()
    if request.method not in READ_ONLY_METHODS:
        written = g.get(WRITE_CONNECTION)
        return written if written is not None else db.session.connection()
    connection = g.get(_READ_CONNECTION)
    if connection is None or connection.closed:
        if current_app.config["READ_CONNECTION_PER_THREAD"]:
            connection = kept_read_connection(db.engine)
        else:
            connection = read_connection(db.engine)
        setattr(g, _READ_CONNECTION, connection)
    return connection


def _give_back(_error: BaseException | None = None) -> None:
    connection = g.pop(_READ_CONNECTION, None)
    if connection is not None and not is_kept(connection):
        connection.close()


def _one_connection_per_thread() -> None:
    """A request that may write gives back the read connection its thread kept."""
    if request.method not in READ_ONLY_METHODS:
        release_read_connection()


@contextmanager
def transaction() -> Iterator[None]:
    """Run the block in one transaction: committed when it ends, rolled back when it raises.

    For a request's writes that need no ORM objects (a cart change, a checkout). The
    transaction is a Core connection's, not the ORM session's: beginning, committing and
    closing the session cost 47 µs against the connection's 12, ~4 % of a cart add. The
    block's statements run on it (`Statement`, `together`), and so would any the session sends:
    the session joins the connection's transaction (`dbsession.Session.get_bind`) without
    committing it. When the session already holds a transaction (a signed-in customer's
    request read its sign-in through it), the block goes on in that one and the session
    commits it.
    """
    if db.session.registry.has() and db.session().in_transaction():
        try:
            yield
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        return
    connection = db.engine.connect()
    g.setdefault(WRITE_CONNECTION, connection)
    try:
        with connection.begin():
            yield
    finally:
        g.pop(WRITE_CONNECTION, None)
        if db.session.registry.has():
            # It may have joined the connection: let go of it before the connection closes.
            db.session.close()
        connection.close()


def register(app: Flask) -> None:
    """Give a read-only request's connection back to the pool when the request ends (or keep
    it for the thread's next one, see `dbsession`), and a kept one back before a write."""
    app.teardown_appcontext(_give_back)
    app.before_request(_one_connection_per_thread)


class Statement:
    """A statement run with bound parameters, its rows as tuples."""

    __slots__ = ("_sql", "clause")

    def __init__(self, clause: ClauseElement) -> None:
        self.clause = clause
        # Per dialect name: how to send it directly, or None to go through Core.
        self._sql: dict[str, _Direct | None] = {}

    def _cursor_sql(
        self, connection: Connection | None = None
    ) -> tuple[Connection, _Direct | None]:
        connection = connection or _connection()
        dialect = connection.dialect
        try:
            direct = self._sql[dialect.name]
        except KeyError:
            direct = self._sql[dialect.name] = _direct(self.clause, dialect)
        return connection, direct

    def rows(
        self, params: Mapping[str, Any] | None = None, connection: Connection | None = None
    ) -> Sequence[Sequence[Any]]:
        """Every row of the statement (on `connection`, else the request's, see `_connection`)."""
        connection, direct = self._cursor_sql(connection)
        # Something listens to the statements sent (the tests that count round trips or read
        # plans): let Core send it, so they hear it. It sends the same SQL.
        if direct is None or connection.dispatch.before_cursor_execute:
            result = connection.execute(self.clause, params)
            return result.all() if result.returns_rows else []
        sql, params = direct.sql, direct.parameters(params)
        dbapi_connection = connection.connection.dbapi_connection
        cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            return _rows(cursor)
        except BaseException as error:
            # Core's own handling, as if it had sent the statement: the error wrapped (a lost
            # database is an OperationalError, a 503), a dropped connection invalidated with
            # every other pooled one opened before it, an interrupted one never reused.
            connection._handle_dbapi_exception(error, sql, params, cursor, None)
            raise  # not reached: the call above raises
        finally:
            cursor.close()

    def execute(self, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns no rows."""
        self.rows(params)

    def first(
        self, params: Mapping[str, Any] | None = None, connection: Connection | None = None
    ) -> Sequence[Any] | None:
        """The first row, or None."""
        rows = self.rows(params, connection)
        return rows[0] if rows else None

    def scalar(
        self, params: Mapping[str, Any] | None = None, connection: Connection | None = None
    ) -> Any:
        """The first column of the first row, or None."""
        row = self.first(params, connection)
        return row[0] if row is not None else None


# A statement and its parameters, to be sent with others (`together`).
Call = tuple["Statement", Mapping[str, Any] | None]


def together(*calls: Call) -> list[Sequence[Sequence[Any]]]:
    """The rows of each statement, run in order on the request's connection, sent together.

    On PostgreSQL through psycopg they go in one pipeline: one round trip for all (and for the
    BEGIN before them), where one each would wait for the last. Each statement still sees
    what the ones before it wrote. Elsewhere, and while an engine event listens, they run one
    after the other. A statement cannot use the rows of the one before: give it what it
    needs to find them itself.
    """
    if not calls:
        return []
    connection = _connection()
    directs = [statement._cursor_sql(connection)[1] for statement, _ in calls]
    if connection.dispatch.before_cursor_execute or any(d is None for d in directs):
        return [statement.rows(params, connection) for statement, params in calls]
    sent = [
        (direct.sql, direct.parameters(params))
        for direct, (_, params) in zip(directs, calls, strict=True)
        if direct is not None
    ]
    dbapi_connection = connection.connection.dbapi_connection
    cursors = []
    sql, values = "", None
    try:
        with dbapi_connection.pipeline():  # type: ignore[union-attr]
            for sql, values in sent:
                cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
                cursors.append(cursor)
                cursor.execute(sql, values)
        return [_rows(cursor) for cursor in cursors]
    except BaseException as error:
        # As `Statement.rows` does (the statement named is the last one sent).
        connection._handle_dbapi_exception(
            error, sql, values, cursors[-1] if cursors else None, None
        )
        raise  # not reached: the call above raises
    finally:
        for cursor in cursors:
            cursor.close()


T = TypeVar("T")


class Shapes(Generic[T]):
    """What was built once per shape of a request (its statements), at most `limit` of them.

    Shapes come from what clients send (how many categories or words), so the kept ones are
    bounded, as SQLAlchemy's own statement cache is: past the bound, all are built again.
    """

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self._built: dict[Hashable, T] = {}

    def get(self, shape: Hashable, build: Callable[[], T]) -> T:
        """What was built for `shape`, or `build()` (kept)."""
        built = self._built.get(shape)
        if built is None:
            if len(self._built) >= self.limit:
                self._built.clear()
            built = self._built[shape] = build()
        return built

    def __len__(self) -> int:
        return len(self._built)
