"""After a bulk COPY into an empty products table: what was dropped for it comes back.

Index maintenance during COPY costs several times the COPY itself, and the foreign key's check of
every row about a seventh of it, so `pg_load.load_empty` drops the products table's secondary
indexes and foreign keys first; they come back from their own definitions (`pg_get_indexdef`,
`pg_get_constraintdef`: as the migrations made them). The plan follows the times measured at 1M
products on two cores (docs/search-and-performance.md): the foreign keys (one check of all rows)
and VACUUM ANALYZE, then two workers take the remaining steps longest first. The trigram index
alone takes about as long as all the other steps together, so one worker builds it while the
other does the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Index
from sqlalchemy.schema import AddConstraint

from .catalog_version import BUMP
from .load_report import LoadReport
from .models import Product

WORKERS = 2
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


@contextmanager
def session(engine: Engine, *settings: str, autocommit: bool = False) -> Iterator[Any]:
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


@dataclass(frozen=True)
class Dropped:
    """What `drop_for_copy` dropped: (name, definition) of each index and foreign key."""

    indexes: list[tuple[str, str]]
    keys: list[tuple[str, str]]


def drop_for_copy(connection: Any) -> Dropped:
    """Drop the products table's secondary indexes and foreign keys in `connection`'s
    transaction; what `put_back` needs to make them again."""
    dropped = Dropped(_secondary_indexes(connection), _foreign_keys(connection))
    for name, _ in dropped.indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    for name, _ in dropped.keys:
        connection.exec_driver_sql(f'ALTER TABLE products DROP CONSTRAINT "{name}"')
    return dropped


def put_back(engine: Engine, dropped: Dropped, report: LoadReport) -> None:
    """The foreign keys and VACUUM, then the indexes, the vocabulary and the category counts,
    then a bump of the catalog version."""
    try:
        _put_back_keys(engine, dropped.keys, report)
    finally:
        _run(engine, _jobs(dropped.indexes), report)
    # In a transaction of its own, after the vocabulary and the counts it announces (a cached
    # typo search's total depends on the vocabulary).
    with session(engine, autocommit=True) as connection:
        connection.execute(BUMP.text)


def _put_back_keys(engine: Engine, keys: list[tuple[str, str]], report: LoadReport) -> None:
    """Add `keys` again (one check of all rows each), then VACUUM ANALYZE.

    Both before the index builds, which they would wait for (their locks conflict), and while
    no index needs visiting: VACUUM sets the visibility map (counts can be index-only scans
    from the start) and the hint bits, so the builds' scans find them set.
    """
    with session(engine, NO_TIMEOUT, autocommit=True) as connection:
        for name, definition in keys:
            with report.phase(f"foreign key {name}"):
                connection.execute(f'ALTER TABLE products ADD CONSTRAINT "{name}" {definition}')
        with report.phase("vacuum analyze"):
            connection.execute("VACUUM (ANALYZE) products")


def _foreign_keys(connection: Any) -> list[tuple[str, str]]:
    """(name, definition) of the products table's foreign keys."""
    rows = connection.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'products'::regclass AND contype = 'f' ORDER BY conname"
    )
    return [(name, definition) for name, definition in rows]


def _secondary_indexes(connection: Any) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the products table's non-unique indexes, in the order
    they were made."""
    rows = connection.exec_driver_sql(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'products'::regclass AND NOT x.indisunique AND NOT x.indisprimary "
        "ORDER BY i.oid"
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

    Inserted one by one through the key, a million new terms took 10 s (over 20 s under load);
    without it 5 s, and the key built from its own definition afterwards 2 s. One transaction,
    so a failure or a kill leaves the table and its key as they were; the lock keeps writers
    out meanwhile.
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


def _jobs(indexes: list[tuple[str, str]]) -> list[list[Step]]:
    """What follows the COPY, longest first; the steps of a job run in order on one worker.

    The table was empty when the indexes were listed, so their sizes said nothing: GIN builds
    take longest, the trigram one by far (as long as everything else together), then come the
    vocabulary and the b-trees. The b-trees are one job, made in the order they were made before:
    between two equally cheap indexes (category_price and category_name for a category's page on
    a small catalog) the planner takes the newer one, so the table must plan as migrated.
    """
    gin = sorted((i for i in indexes if " USING gin " in i[1]), key=lambda i: "_trgm_" not in i[1])
    btrees = [i for i in indexes if i not in gin]
    return [
        *[[(f"index {name}", _statement(sql))] for name, sql in gin],
        [("search vocabulary", _fill_vocabulary)],
        [(f"index {name}", _statement(sql)) for name, sql in btrees],
        [("category counts", _statement(RECOUNT))],
    ]


def _run(engine: Engine, jobs: list[list[Step]], report: LoadReport) -> None:
    """Run `jobs` on WORKERS connections, each worker taking the next job when it is free.

    A failed step does not stop the others (every index should come back); the first failure
    is raised at the end.
    """
    queue = iter(jobs)
    lock = threading.Lock()

    def work() -> None:
        with session(engine, *_BUILD_SETTINGS, autocommit=True) as connection:
            failure: BaseException | None = None
            while True:
                with lock:
                    job = next(queue, None)
                if job is None:
                    break
                for name, run in job:
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

    `pg_load.load_empty` drops them for its COPY and puts them back afterwards, even when it fails;
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
        # In the models' (and migrations') order: the planner breaks ties by it (see _jobs).
        declared = [arg for arg in Product.__table_args__ if isinstance(arg, Index)]
        declared += sorted(table.indexes - set(declared), key=lambda index: str(index.name))
        indexes = [index for index in declared if index.name not in present]
        keys = [key for key in table.foreign_key_constraints if key.name not in present]
        if indexes or keys:
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        for key in keys:
            connection.execute(AddConstraint(key))
        for index in indexes:
            index.create(connection)
    return sorted(str(dropped.name) for dropped in [*indexes, *keys])
