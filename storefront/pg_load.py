"""Loading a synthetic catalog into PostgreSQL fast: COPY and index builds, two at a time.

Index maintenance during COPY costs several times the COPY itself, so on an empty table the
products table's secondary indexes are dropped first and rebuilt afterwards from their own
definitions (`pg_get_indexdef`, i.e. as the migration made them). The machine this targets
has two cores: two COPY streams, then two index builds (the trigram index alone takes as long
as all the others together).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any

from sqlalchemy import Engine, text

from . import textfold
from .catalog_version import BUMP
from .models import Product
from .synthetic import SyntheticProduct

WORKERS = 2
CHUNK = 10_000
COLUMNS = "name, description, price, category_id, name_key, search_text, stock"
_SETUP = ("SET statement_timeout = 0", "SET maintenance_work_mem = '1GB'")


def _copy_line(product: SyntheticProduct, category_id: int) -> str:
    # Generated text holds no tab or backslash; the haystack's newline is escaped for COPY.
    haystack = textfold.search_text(product.name, product.description).replace("\n", "\\n")
    stock = "\\N" if product.stock is None else product.stock
    return (
        f"{product.name}\t{product.description}\t{product.price}\t{category_id}\t"
        f"{textfold.fold(product.name)}\t{haystack}\t{stock}\n"
    )


class _Chunks:
    """Hands out chunks of COPY text to several threads, one chunk at a time."""

    def __init__(self, products: Iterable[SyntheticProduct], ids: dict[str, int]) -> None:
        self._products: Iterator[SyntheticProduct] = iter(products)
        self._ids = ids
        self._lock = threading.Lock()

    def next(self) -> tuple[str, int]:
        with self._lock:
            chunk = list(islice(self._products, CHUNK))
        lines = "".join(_copy_line(p, self._ids[textfold.fold(p.category)]) for p in chunk)
        return lines, len(chunk)


def _copy(cursor: Any, target: str, chunks: _Chunks, progress: Callable[[int], None]) -> None:
    """COPY chunks into `target` on `cursor` until they run out."""
    with cursor.copy(f"COPY {target} ({COLUMNS}) FROM STDIN") as copy:
        while True:
            lines, count = chunks.next()
            if not count:
                return
            copy.write(lines)
            progress(count)


def _copy_stream(engine: Engine, chunks: _Chunks, progress: Callable[[int], None]) -> None:
    """One COPY stream into products, on a connection and transaction of its own."""
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:
            cursor.execute(_SETUP[0])
            _copy(cursor, "products", chunks, progress)
            # Last, unlike other writes: the two streams would otherwise run one after the
            # other. Their only locks on shared rows are the categories' key-share locks, which
            # no other catalog write waits for.
            cursor.execute(BUMP.text)
        raw.commit()
    finally:
        raw.close()


def _secondary_indexes(connection: Any) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the products table's non-unique indexes."""
    rows = connection.exec_driver_sql(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'products'::regclass AND NOT x.indisunique AND NOT x.indisprimary "
        "ORDER BY pg_relation_size(i.oid) DESC"
    )
    return [(name, definition) for name, definition in rows]


def _build(engine: Engine, definitions: list[str]) -> None:
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in (*_SETUP, *definitions):
            autocommit.exec_driver_sql(statement)


RECOUNT = (
    "UPDATE categories SET product_count = counted.n FROM ("
    "SELECT category_id, count(*) AS n FROM products GROUP BY category_id) AS counted "
    "WHERE categories.id = counted.category_id"
)
ALL_TERMS = (
    "INSERT INTO search_terms (term) "
    "SELECT DISTINCT unnest(tsvector_to_array(search_words)) FROM products "
    "ON CONFLICT DO NOTHING"
)


def _rebuild(engine: Engine, indexes: list[tuple[str, str]]) -> None:
    """Re-create `indexes` and fill the search vocabulary, two workers side by side.

    The largest index (the trigram one) takes one worker; the others and the vocabulary
    together take about as long on the second.
    """
    first = [definition for _, definition in indexes[:1]]
    # In autocommit, each its own transaction: the bump commits after the vocabulary and the
    # counts it announces (a cached typo search's total depends on the vocabulary).
    rest = [definition for _, definition in indexes[1:]] + [ALL_TERMS, RECOUNT, BUMP.text]
    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(_build, engine, first), pool.submit(_build, engine, rest)]:
            future.result()


def restore_indexes(engine: Engine) -> list[str]:
    """Create the products indexes that the models declare and the table lacks; their names.

    `load_empty` drops them for its COPY and rebuilds them afterwards, even when loading fails;
    but a load killed outright (SIGKILL, a crash, a lost machine) never gets to, and its COPY
    rolls back while the drop stays. The model's indexes are the migrations' (`flask db check`
    is tested), so they are the recipe for putting them back.
    """
    with engine.begin() as connection:
        present = set(
            connection.exec_driver_sql(
                "SELECT indexname FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = 'products'"
            ).scalars()
        )
        missing = [index for index in Product.__table__.indexes if index.name not in present]
        if missing:
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        for index in missing:
            index.create(connection)
    return sorted(str(index.name) for index in missing)


def load_empty(
    engine: Engine,
    products: Iterable[SyntheticProduct],
    ids: dict[str, int],
    progress: Callable[[int], None],
) -> int:
    """COPY into the empty products table; the indexes are rebuilt even if loading fails."""
    with engine.begin() as connection:
        indexes = _secondary_indexes(connection)
        for name, _ in indexes:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
    try:
        chunks = _Chunks(products, ids)
        with ThreadPoolExecutor(WORKERS) as pool:
            streams = [pool.submit(_copy_stream, engine, chunks, progress) for _ in range(WORKERS)]
            for stream in streams:
                stream.result()
    finally:
        _rebuild(engine, indexes)
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql(_SETUP[0])
        # VACUUM sets the visibility map, so counts can be index-only scans from the start.
        autocommit.exec_driver_sql("VACUUM (ANALYZE) products")
        return autocommit.exec_driver_sql("SELECT count(*) FROM products").scalar_one()


def merge(
    engine: Engine,
    products: Iterable[SyntheticProduct],
    ids: dict[str, int],
    progress: Callable[[int], None],
) -> int:
    """Into a filled table: COPY to a staging table, then add what is not there yet."""
    with engine.begin() as connection:
        connection.exec_driver_sql(_SETUP[0])
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE staging AS SELECT {COLUMNS} FROM products LIMIT 0"
        )
        with connection.connection.driver_connection.cursor() as cursor:
            _copy(cursor, "staging", _Chunks(products, ids), progress)
        # Before the first lock on a shared row, as every catalog write (see `inventory`).
        connection.execute(BUMP)
        result = connection.execute(
            text(
                f"INSERT INTO products ({COLUMNS}) SELECT {COLUMNS} FROM staging s "
                "WHERE NOT EXISTS (SELECT 1 FROM products p "
                "WHERE p.category_id = s.category_id AND p.name_key = s.name_key)"
            )
        )
        connection.exec_driver_sql("DROP TABLE staging")
        connection.exec_driver_sql(ALL_TERMS)
        connection.exec_driver_sql(RECOUNT)
        return result.rowcount
