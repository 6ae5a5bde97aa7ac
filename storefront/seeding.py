"""Bulk loading: the demo catalog, bulk files, and fast synthetic catalogs (COPY on PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from itertools import islice
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, select, update

from . import inventory, pg_load, pg_rebuild, synthetic
from .api.body import pydantic_issues
from .extensions import db
from .load_report import LoadReport
from .models import Product
from .schemas import ProductIn
from .synthetic import SyntheticProduct

CHUNK = 10_000
_p = Product.__table__.c
_SET_STOCK = (
    update(Product.__table__).where(_p.id == bindparam("pid")).values(stock=bindparam("units"))
)


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
            issues = pydantic_issues(exc, index, entry)
            problems += [f"{issue['loc']}: {issue['msg']}" for issue in issues]
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


def restore_dropped() -> list[str]:
    """Put back the products indexes and keys an interrupted `--generate` load dropped."""
    if db.engine.dialect.name != "postgresql":
        return []
    return pg_rebuild.restore_dropped(db.engine)


def load_generated(products: Iterable[SyntheticProduct], report: LoadReport) -> int:
    """Load synthetic products; on an empty PostgreSQL table, COPY with indexes rebuilt after."""
    categories = inventory.ensure_categories(synthetic.CATEGORIES)
    ids = {key: category_id for key, (category_id, _) in categories.items()}
    db.session.commit()
    engine = db.engine
    if engine.dialect.name == "postgresql":
        loader = pg_load.load_empty if product_count() == 0 else pg_load.merge
        db.session.commit()
        # COPY goes around `inventory`; the loaders bump the catalog version themselves.
        return loader(engine, products, ids, report)
    added = 0
    products = iter(products)
    with report.phase("rows"):
        while chunk := list(islice(products, CHUNK)):
            added += _insert_generated(chunk)
            report.rows(len(chunk))
    return added


def _insert_generated(chunk: list[SyntheticProduct]) -> int:
    """Add `chunk` in one transaction through `inventory`, as the API would; how many added."""
    items = [
        ProductIn(name=p.name, description=p.description, price=p.price, category=p.category)
        for p in chunk
    ]
    # ProductIn has no stock yet, so it is set on the rows just made, in the same transaction.
    stock = {p.name: p.stock for p in chunk}
    try:
        added = inventory.create_products(items, skip_existing=True)
        tracked = [
            {"pid": view.id, "units": stock[view.name]}
            for view in added
            if stock[view.name] is not None
        ]
        if tracked:
            db.session.execute(_SET_STOCK, tracked)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(added)
