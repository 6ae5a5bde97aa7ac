"""Bulk loading: the demo catalog, bulk files, and fast synthetic catalogs (COPY on PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from itertools import islice
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, text

from . import inventory, synthetic, textfold
from .api.body import pydantic_issues
from .extensions import db
from .models import Product
from .schemas import ProductIn
from .synthetic import SyntheticProduct

CHUNK = 10_000
_COPY_COLUMNS = "name, description, price, category_id, name_key, search_text"


class SeedError(ValueError):
    """A seed file that cannot be loaded; nothing was written."""


def demo_catalog() -> list[dict[str, Any]]:
    """The original's 20 demo products, bundled with the package."""
    return json.loads(resources.files("storefront").joinpath("data/demo_products.json").read_text())


def validate_items(raw: Any) -> list[ProductIn]:
    """Validate a bulk-format list like the API does; SeedError names every bad entry."""
    if not isinstance(raw, list) or not raw:
        raise SeedError("the file must hold a non-empty JSON array of products")
    items, problems = [], []
    for index, entry in enumerate(raw):
        try:
            items.append(ProductIn.model_validate(entry))
        except ValidationError as exc:
            problems += [f"{issue['loc']}: {issue['msg']}" for issue in pydantic_issues(exc, index)]
    if problems:
        raise SeedError("invalid entries:\n  " + "\n  ".join(problems[:50]))
    return items


def load_items(items: list[ProductIn]) -> int:
    """Add `items` in one transaction, skipping same name + category; returns how many added."""
    try:
        added = inventory.create_products(items, skip_existing=True)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(added)


def product_count() -> int:
    """How many products the catalog holds."""
    return db.session.execute(select(func.count()).select_from(Product)).scalar_one()


def _chunks(rows: Iterable[SyntheticProduct], size: int) -> Iterator[list[SyntheticProduct]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _copy_line(product: SyntheticProduct, category_id: int) -> str:
    # Generated text holds no tab or backslash; the haystack's newline is escaped for COPY.
    haystack = textfold.search_text(product.name, product.description).replace("\n", "\\n")
    return (
        f"{product.name}\t{product.description}\t{product.price}\t{category_id}\t"
        f"{textfold.fold(product.name)}\t{haystack}\n"
    )


def load_generated(products: Iterable[SyntheticProduct], progress: Callable[[int], None]) -> int:
    """Load synthetic products; on an empty PostgreSQL table, COPY with indexes rebuilt after."""
    categories = inventory.ensure_categories(synthetic.CATEGORIES)
    ids = {key: category_id for key, (category_id, _) in categories.items()}
    db.session.commit()
    engine = db.engine
    if engine.dialect.name == "postgresql":
        return _copy_postgresql(products, ids, progress)
    added = 0
    for chunk in _chunks(products, CHUNK):
        items = [
            ProductIn(name=p.name, description=p.description, price=p.price, category=p.category)
            for p in chunk
        ]
        added += load_items(items)
        progress(len(chunk))
    return added


def _secondary_indexes(connection: Any) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the products table's non-unique indexes."""
    rows = connection.exec_driver_sql(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'products'::regclass AND NOT x.indisunique AND NOT x.indisprimary"
    )
    return [(name, definition) for name, definition in rows]


def _copy_postgresql(
    products: Iterable[SyntheticProduct], ids: dict[str, int], progress: Callable[[int], None]
) -> int:
    empty = product_count() == 0
    db.session.commit()
    with db.engine.begin() as connection:
        # A bulk load may take minutes; the request-sized statement timeout does not apply.
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        # Index maintenance during COPY costs 5x the COPY itself: drop, load, rebuild.
        indexes = _secondary_indexes(connection) if empty else []
        for name, _ in indexes:
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
        target = "products"
        if not empty:
            connection.exec_driver_sql(
                "CREATE TEMP TABLE staging (LIKE products INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            target = "staging"
        raw = connection.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {target} ({_COPY_COLUMNS}) FROM STDIN") as copy,
        ):
            for chunk in _chunks(products, CHUNK):
                copy.write("".join(_copy_line(p, ids[textfold.fold(p.category)]) for p in chunk))
                progress(len(chunk))
        if not empty:
            result = connection.execute(
                text(
                    f"INSERT INTO products ({_COPY_COLUMNS}) "
                    f"SELECT {_COPY_COLUMNS} FROM staging s WHERE NOT EXISTS ("
                    "SELECT 1 FROM products p WHERE p.category_id = s.category_id "
                    "AND p.name_key = s.name_key)"
                )
            )
            return result.rowcount
        connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        connection.exec_driver_sql("SET LOCAL max_parallel_maintenance_workers = 2")
        for _, definition in indexes:
            connection.exec_driver_sql(definition)
        added = connection.exec_driver_sql("SELECT count(*) FROM products").scalar_one()
    with db.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql("SET statement_timeout = 0")
        autocommit.exec_driver_sql("ANALYZE products")
    return added
