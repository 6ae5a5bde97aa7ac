"""Loading a synthetic catalog into PostgreSQL fast: COPY on two streams, indexes built after.

On an empty products table the indexes and foreign keys go for the COPY and come back after it
(`pg_rebuild`); into a filled one, rows go through a staging table. PostgreSQL computes the two
tsvector columns as rows arrive: about half the COPY's time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any

from sqlalchemy import Engine, text

from . import pg_rebuild, textfold
from .catalog_version import BUMP
from .load_report import LoadReport
from .pg_rebuild import ALL_TERMS, NO_TIMEOUT, RECOUNT, WORKERS
from .synthetic import SyntheticProduct

CHUNK = 10_000
COLUMNS = "name, description, price, category_id, name_key, search_text, stock"


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


def _copy(cursor: Any, target: str, chunks: _Chunks, report: LoadReport) -> int:
    """COPY chunks into `target` on `cursor` until they run out; how many rows."""
    copied = 0
    with cursor.copy(f"COPY {target} ({COLUMNS}) FROM STDIN") as copy:
        while True:
            lines, count = chunks.next()
            if not count:
                return copied
            copy.write(lines)
            copied += count
            report.rows(count)


def _copy_stream(engine: Engine, chunks: _Chunks, report: LoadReport) -> int:
    """One COPY stream into products, in a transaction of its own; how many rows."""
    # A commit whose WAL is not flushed yet (synchronous_commit off) lets no one set the rows'
    # hint bits, and VACUUM marks a page all-visible only when they are set: wait for the flush.
    with pg_rebuild.session(engine, NO_TIMEOUT, "SET synchronous_commit = on") as connection:
        with connection.cursor() as cursor:
            copied = _copy(cursor, "products", chunks, report)
            # Last, unlike other writes: the two streams would otherwise run one after the
            # other. Their only locks on shared rows are the categories' key-share locks, which
            # no other catalog write waits for.
            cursor.execute(BUMP.text)
        connection.commit()
    return copied


def load_empty(
    engine: Engine, products: Iterable[SyntheticProduct], ids: dict[str, int], report: LoadReport
) -> int:
    """COPY into the empty products table; what it drops comes back even if loading fails."""
    with engine.begin() as connection:
        dropped = pg_rebuild.drop_for_copy(connection)
    try:
        chunks = _Chunks(products, ids)
        with report.phase("rows"), ThreadPoolExecutor(WORKERS) as pool:
            streams = [pool.submit(_copy_stream, engine, chunks, report) for _ in range(WORKERS)]
            copied = sum(stream.result() for stream in streams)
    finally:
        pg_rebuild.put_back(engine, dropped, report)
    return copied


def merge(
    engine: Engine, products: Iterable[SyntheticProduct], ids: dict[str, int], report: LoadReport
) -> int:
    """Into a filled table: COPY to a staging table, then add what is not there yet."""
    with engine.begin() as connection:
        connection.exec_driver_sql(NO_TIMEOUT)
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE staging AS SELECT {COLUMNS} FROM products LIMIT 0"
        )
        cursor = connection.connection.driver_connection.cursor()
        with report.phase("rows"), cursor:
            _copy(cursor, "staging", _Chunks(products, ids), report)
        with report.phase("new products"):
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
        with report.phase("search vocabulary"):
            connection.exec_driver_sql(ALL_TERMS)
        with report.phase("category counts"):
            connection.exec_driver_sql(RECOUNT)
        return result.rowcount
