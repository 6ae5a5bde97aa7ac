"""Loading a synthetic catalog into PostgreSQL fast: COPY, then the index builds, two at a time.

Index maintenance during COPY costs several times the COPY itself, and the foreign key's check
of every row a fifth of it, so on an empty table the products table's secondary indexes and
foreign keys are dropped first and put back afterwards from their own definitions
(`pg_get_indexdef`, `pg_get_constraintdef`: as the migrations made them). The machine this targets
has two cores, and the plan follows the times measured at 1M products
(docs/search-and-performance.md): two COPY streams (PostgreSQL computes the two tsvector columns
as rows arrive), the foreign keys (one check of all rows) and VACUUM ANALYZE, then two workers
take the remaining steps longest first. The
trigram index alone takes about as long as all the other steps together, so one worker builds it
while the other does the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import islice
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.schema import AddConstraint

from . import textfold
from .catalog_version import BUMP
from .load_report import LoadReport
from .models import Product
from .synthetic import SyntheticProduct

WORKERS = 2
CHUNK = 10_000
COLUMNS = "name, description, price, category_id, name_key, search_text, stock"
NO_TIMEOUT = "SET statement_timeout = 0"
# Index builds sort in memory; the vocabulary's DISTINCT hashes ~1M lexemes at 1M products.
# The two workers keep both cores busy, and the trigram build cannot run in parallel: parallel
# b-tree workers would only take CPU from it, the step everything waits for.
_BUILD_SETTINGS = (
    NO_TIMEOUT,
    "SET maintenance_work_mem = '1GB'",
    "SET work_mem = '256MB'",
    "SET max_parallel_maintenance_workers = 0",
)


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


@contextmanager
def _session(engine: Engine, *settings: str, autocommit: bool = False) -> Iterator[Any]:
    """A psycopg connection of its own, closed afterwards rather than pooled with `settings`."""
    raw = engine.raw_connection()
    connection = raw.driver_connection
    raw.detach()
    try:
        connection.autocommit = autocommit
        for statement in settings:
            connection.execute(statement)
        yield connection
    finally:
        raw.close()


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
    with _session(engine, NO_TIMEOUT, "SET synchronous_commit = on") as connection:
        with connection.cursor() as cursor:
            copied = _copy(cursor, "products", chunks, report)
            # Last, unlike other writes: the two streams would otherwise run one after the
            # other. Their only locks on shared rows are the categories' key-share locks, which
            # no other catalog write waits for.
            cursor.execute(BUMP.text)
        connection.commit()
    return copied


def _foreign_keys(connection: Any) -> list[tuple[str, str]]:
    """(name, definition) of the products table's foreign keys."""
    rows = connection.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'products'::regclass AND contype = 'f' ORDER BY conname"
    )
    return [(name, definition) for name, definition in rows]


def _secondary_indexes(connection: Any) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the products table's non-unique indexes."""
    rows = connection.exec_driver_sql(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'products'::regclass AND NOT x.indisunique AND NOT x.indisprimary "
        "ORDER BY i.relname"
    )
    return [(name, definition) for name, definition in rows]


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
FIRST_TERMS = (
    "INSERT INTO search_terms (term) "
    "SELECT DISTINCT unnest(tsvector_to_array(search_words)) FROM products"
)
_PRIMARY_KEY = (
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = 'search_terms'::regclass AND contype = 'p'"
)


def _fill_vocabulary(connection: Any) -> None:
    """Add the lexemes of search_words to search_terms; into an empty one, key built after.

    Inserted one by one through the key, a million new terms take ~20 s; without it ~8 s, and
    the key built from its own definition afterwards ~2 s. One transaction, so a failure or a
    kill leaves the table and its key as they were; the lock keeps writers out meanwhile.
    """
    with connection.transaction():
        connection.execute("LOCK TABLE search_terms")
        if connection.execute("SELECT EXISTS (SELECT FROM search_terms)").fetchone()[0]:
            connection.execute(ALL_TERMS)
            return
        name, definition = connection.execute(_PRIMARY_KEY).fetchone()
        connection.execute(f'ALTER TABLE search_terms DROP CONSTRAINT "{name}"')
        connection.execute(FIRST_TERMS)
        connection.execute(f'ALTER TABLE search_terms ADD CONSTRAINT "{name}" {definition}')


def _statement(sql: str) -> Callable[[Any], None]:
    return lambda connection: connection.execute(sql)


Step = tuple[str, Callable[[Any], None]]


def _steps(indexes: list[tuple[str, str]]) -> list[Step]:
    """What follows the COPY, longest first.

    The table was empty when the indexes were listed, so their sizes said nothing: GIN builds
    take longest, the trigram one by far (as long as everything else together), then come the
    vocabulary and the b-trees.
    """
    gin = sorted((i for i in indexes if " USING gin " in i[1]), key=lambda i: "_trgm_" not in i[1])
    other = [i for i in indexes if i not in gin]
    return [
        *[(f"index {name}", _statement(sql)) for name, sql in gin],
        ("search vocabulary", _fill_vocabulary),
        *[(f"index {name}", _statement(sql)) for name, sql in other],
        ("category counts", _statement(RECOUNT)),
    ]


def _run(engine: Engine, steps: list[Step], report: LoadReport) -> None:
    """Run `steps` on WORKERS connections, each worker taking the next step when it is free.

    A failed step does not stop the others (every index should come back); the first failure
    is raised at the end.
    """
    queue = iter(steps)
    lock = threading.Lock()

    def work() -> None:
        with _session(engine, *_BUILD_SETTINGS, autocommit=True) as connection:
            failure: BaseException | None = None
            while True:
                with lock:
                    step = next(queue, None)
                if step is None:
                    break
                name, run = step
                try:
                    with report.phase(name):
                        run(connection)
                except Exception as exc:  # raised below, once the other steps are done
                    failure = failure or exc
            if failure:
                raise failure

    with ThreadPoolExecutor(WORKERS) as pool:
        for worker in [pool.submit(work) for _ in range(WORKERS)]:
            worker.result()


def restore_dropped(engine: Engine) -> list[str]:
    """Create the products indexes and foreign keys that the models declare and the table lacks;
    their names.

    `load_empty` drops them for its COPY and puts them back afterwards, even when loading fails;
    but a load killed outright (SIGKILL, a crash, a lost machine) never gets to, and its COPY
    rolls back while the drop stays. The model's indexes and keys are the migrations' (`flask db
    check` is tested), so they are the recipe for putting them back.
    """
    table = Product.__table__
    with engine.begin() as connection:
        present = set(
            connection.exec_driver_sql(
                "SELECT indexname FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = 'products' "
                "UNION SELECT conname FROM pg_constraint WHERE conrelid = 'products'::regclass"
            ).scalars()
        )
        indexes = [index for index in table.indexes if index.name not in present]
        keys = [key for key in table.foreign_key_constraints if key.name not in present]
        if indexes or keys:
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        for key in keys:
            connection.execute(AddConstraint(key))
        for index in indexes:
            index.create(connection)
    return sorted(str(dropped.name) for dropped in [*indexes, *keys])


def _put_back_keys(engine: Engine, keys: list[tuple[str, str]], report: LoadReport) -> None:
    """Add `keys` again (one check of all rows each), then VACUUM ANALYZE.

    Both before the index builds, which they would wait for (their locks conflict), and while
    no index needs visiting: VACUUM sets the visibility map (counts can be index-only scans
    from the start) and the hint bits, so the builds' scans find them set.
    """
    with _session(engine, NO_TIMEOUT, autocommit=True) as connection:
        for name, definition in keys:
            with report.phase(f"foreign key {name}"):
                connection.execute(f'ALTER TABLE products ADD CONSTRAINT "{name}" {definition}')
        with report.phase("vacuum analyze"):
            connection.execute("VACUUM (ANALYZE) products")


def load_empty(
    engine: Engine, products: Iterable[SyntheticProduct], ids: dict[str, int], report: LoadReport
) -> int:
    """COPY into the empty products table; what it drops comes back even if loading fails."""
    with engine.begin() as connection:
        indexes = _secondary_indexes(connection)
        keys = _foreign_keys(connection)
        for name, _ in indexes:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
        for name, _ in keys:
            connection.exec_driver_sql(f'ALTER TABLE products DROP CONSTRAINT "{name}"')
    try:
        chunks = _Chunks(products, ids)
        with report.phase("rows"), ThreadPoolExecutor(WORKERS) as pool:
            streams = [pool.submit(_copy_stream, engine, chunks, report) for _ in range(WORKERS)]
            copied = sum(stream.result() for stream in streams)
    finally:
        try:
            _put_back_keys(engine, keys, report)
        finally:
            _run(engine, _steps(indexes), report)
        # In a transaction of its own, after the vocabulary and the counts it announces (a
        # cached typo search's total depends on the vocabulary).
        with _session(engine, autocommit=True) as connection:
            connection.execute(BUMP.text)
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
