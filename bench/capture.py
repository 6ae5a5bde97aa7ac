"""The SQL the app sends: captured in-process, then written out for psycopg and for pgbench.

The app is driven through Flask's test client with an SQLAlchemy `before_cursor_execute`
listener, so what is captured is exactly what reaches psycopg: the statement text (pyformat
placeholders, `%(name)s`) and its parameters. Nothing here knows the app's queries: whatever the
app sends today is what the bare baseline replays and what pgbench runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
# A pgbench variable reference (`:name`); `::type` casts are not one.
PGBENCH_VARIABLE = re.compile(r"(?<!:):(?!:)[A-Za-z_\x80-\uffff]")
STRING_LITERAL = re.compile(r"E?'(?:[^']|'')*'")


@dataclass
class Statement:
    """One statement as the app sent it; `first_row` is kept for writes (see `Recorder`)."""

    sql: str
    params: dict[str, Any]
    first_row: tuple | None = None
    columns: tuple[str, ...] = ()

    def literal(self) -> str:
        """The statement with its parameters written in as SQL literals."""
        return literal_sql(self.sql, self.params)


@dataclass
class Recorder:
    """Collects the statements an engine executes while it is attached."""

    statements: list[Statement] = field(default_factory=list)
    keep_rows: bool = False

    def _before(self, _conn, _cursor, statement, parameters, _context, executemany):
        # An executemany (a checkout's stock decrements) runs once per parameter set.
        sets = parameters if executemany else [parameters]
        if not all(isinstance(params, dict) for params in sets):
            raise RuntimeError(f"cannot capture a positional statement: {statement}")
        self.statements.extend(Statement(statement, dict(params)) for params in sets)

    def _after(self, _conn, cursor, _statement, _parameters, _context, _executemany):
        # Writes return ids that later statements use (a cart's id): remember the first row,
        # then rewind the cursor so SQLAlchemy reads the result as if nothing happened.
        if cursor.description:
            self.statements[-1].columns = tuple(column.name for column in cursor.description)
            self.statements[-1].first_row = row = cursor.fetchone()
            if row is not None:
                cursor.scroll(0, mode="absolute")

    @contextmanager
    def attached(self, engine: Engine) -> Iterator[Recorder]:
        """Record while inside the block."""
        event.listen(engine, "before_cursor_execute", self._before)
        if self.keep_rows:
            event.listen(engine, "after_cursor_execute", self._after)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", self._before)
            if self.keep_rows:
                event.remove(engine, "after_cursor_execute", self._after)

    def take(self) -> list[Statement]:
        """The statements recorded so far; the recorder starts again empty."""
        taken, self.statements = self.statements, []
        return taken


def quote(text: str) -> str:
    """An SQL string literal that pgbench leaves alone.

    pgbench reads `:name` as a variable even inside quotes (tsquery weights are written
    `word:A`), so such strings become E'' literals with the colon escaped.
    """
    if ":" not in text and "\\" not in text:
        return "'" + text.replace("'", "''") + "'"
    escaped = text.replace("\\", "\\\\").replace("'", "''").replace(":", "\\x3a")
    return f"E'{escaped}'"


def literal(value: Any) -> str:
    """`value` as an SQL literal of the type psycopg would have sent it as."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"'{value}'::numeric"
    if isinstance(value, float):
        return f"'{value!r}'::float8"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, datetime):
        return quote(value.isoformat()) + "::timestamptz"
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(literal(item) for item in value) + "]"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def literal_sql(sql: str, params: dict[str, Any], variables: dict[str, str] | None = None) -> str:
    """`sql` with each `%(name)s` replaced by its parameter's literal (and `%%` by `%`).

    `variables` maps some parameters to pgbench variables instead (`{"token_1": "token"}`
    writes `:token`); any other `:name` pgbench would see is an error.
    """
    variables = variables or {}

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        return f":{variables[name]}" if name in variables else literal(params[name])

    text = PLACEHOLDER.sub(substitute, sql)
    outside_strings = STRING_LITERAL.sub("''", text)
    allowed = {f":{variable}" for variable in variables.values()}
    for found in PGBENCH_VARIABLE.finditer(outside_strings):
        word = re.match(r":\w+", outside_strings[found.start() :])
        if word is None or word.group(0) not in allowed:
            raise ValueError(f"pgbench would read a variable in: {text[:200]}")
    return text


def pgbench_script(variants: list[list[str]], *, transaction: bool) -> str:
    """A pgbench script that runs one of `variants` (statement lists) at random per transaction.

    One variant is one captured request: the statements the app sent for it, parameters as
    literals. With `-M prepared` each is planned once per connection, then only executed.
    """
    lines = [
        "-- Generated by bench/harness.py from the SQL the app sent; one branch per request.",
        f"\\set variant random(1, {len(variants)})",
    ]
    for number, statements in enumerate(variants, 1):
        keyword = "\\if" if number == 1 else "\\elif"
        lines.append(f"{keyword} :variant = {number}")
        if transaction:
            lines.append("BEGIN;")
        lines.extend(statement.strip().rstrip(";") + ";" for statement in statements)
        if transaction:
            lines.append("COMMIT;")
    lines.append("\\endif")
    return "\n".join(lines) + "\n"


def encode(value: Any) -> Any:
    """A parameter as JSON that `decode` turns back into the same Python type."""
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool | dict):
        return value
    raise TypeError(f"cannot encode a {type(value).__name__} parameter")


def decode(value: Any) -> Any:
    """The inverse of `encode`; `{"$symbol": name}` is left for the caller to fill in."""
    if isinstance(value, dict):
        if "$decimal" in value:
            return Decimal(value["$decimal"])
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        return value
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


PAGE_LIMIT = 20
NUMBER_SEGMENT = re.compile(r"/\d+(?=/|$)")


def url_symbols(
    path: str, query: dict[str, str], category_ids: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The values a catalog URL puts into the app's SQL, by name (what read templates fill in).

    `page` becomes the offset it stands for; a number in the path is the product id; a
    category slug found in `category_ids` is also its id (the app remembers category ids, so
    a warmed-up worker sends the id, not a lookup).
    """
    symbols: dict[str, Any] = {}
    if found := re.search(r"/(\d+)/?$", path):
        symbols["id"] = int(found.group(1))
    if "category" in query:
        symbols["category"] = query["category"]
        if category_ids and query["category"] in category_ids:
            symbols["category_id"] = category_ids[query["category"]]
    for key in ("min_price", "max_price"):
        if key in query:
            symbols[key] = Decimal(query[key])
    if "offset" in query:
        symbols["offset"] = int(query["offset"])
    if "page" in query:
        symbols["offset"] = (int(query["page"]) - 1) * PAGE_LIMIT
    return symbols


def url_shape(method: str, path: str, query: dict[str, str]) -> str:
    """What requests of one read template have in common: method, path pattern, arg names."""
    names = ",".join(sorted(query))
    return f"{method} {NUMBER_SEGMENT.sub('/{n}', path)}?{names}&sort={query.get('sort', '')}"
