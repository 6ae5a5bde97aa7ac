"""Catalog writes (create, bulk, update, delete), shared by the admin API and the CLI.

Each one bumps the catalog version in the caller's transaction (`catalog_version`), so every
process's cached totals see it from the commit on. The bump comes before the write's first
row lock: the version row then orders concurrent catalog writes, which can never wait for
each other in opposite orders (category inserts, the category counts, a product's row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from slugify import slugify
from sqlalchemy import delete, insert, select, update

from . import search, textfold
from .catalog import ProductView, get_product
from .catalog_version import bump_catalog_version
from .extensions import db
from .models import Category, Product
from .schemas import ProductIn, ProductPatch

_c = Category.__table__.c
_p = Product.__table__.c


def _free_slug(name: str, taken: set[str]) -> str:
    base = slugify(name, max_length=100) or "category"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _existing_categories(keys: Iterable[str]) -> dict[str, tuple[int, str]]:
    """(id, stored name) of the categories among folded `keys` that exist, by key."""
    rows = db.session.execute(
        select(_c.id, _c.name, _c.name_key).where(_c.name_key.in_(list(keys)))
    ).all()
    return {row.name_key: (row.id, row.name) for row in rows}


def ensure_categories(names: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Map each name's folded key to (id, stored name), creating missing categories."""
    wanted = {textfold.fold(name): name for name in names}
    found = _existing_categories(wanted)
    if len(found) < len(wanted):
        bump_catalog_version()
        # The bump waited for any catalog write in progress, which may have just made one of
        # these: look again (a second insert would break the name's unique constraint).
        found = _existing_categories(wanted)
    missing = [name for key, name in wanted.items() if key not in found]
    if missing:
        taken = set(db.session.scalars(select(_c.slug)))
        for name in missing:
            slug = _free_slug(name, taken)
            taken.add(slug)
            new_id = db.session.execute(
                insert(Category)
                .values(name=name, name_key=textfold.fold(name), slug=slug)
                .returning(_c.id)
            ).scalar_one()
            found[textfold.fold(name)] = (new_id, name)
    return found


def product_row(item: ProductIn, category_id: int) -> dict[str, object]:
    """Column values for inserting `item`, derived search columns included."""
    return {
        "name": item.name,
        "description": item.description,
        "price": item.price,
        "image": item.image,
        "stock": item.stock,
        "category_id": category_id,
        "name_key": textfold.fold(item.name),
        "search_text": textfold.search_text(item.name, item.description),
    }


def create_products(
    items: Sequence[ProductIn], *, skip_existing: bool = False
) -> list[ProductView]:
    """Insert `items` in the caller's transaction; with `skip_existing`, same name+category skip."""
    categories = ensure_categories(item.category for item in items)
    rows, kept = [], []
    seen: set[tuple[str, int]] = set()
    if skip_existing:
        ids = {category_id for category_id, _ in categories.values()}
        seen = set(
            db.session.execute(select(_p.name_key, _p.category_id).where(_p.category_id.in_(ids)))
            .tuples()
            .all()
        )
    for item in items:
        category_id, category_name = categories[textfold.fold(item.category)]
        identity = (textfold.fold(item.name), category_id)
        if skip_existing and identity in seen:
            continue
        seen.add(identity)
        rows.append(product_row(item, category_id))
        kept.append((item, category_name))
    if not rows:
        return []
    bump_catalog_version()
    new_ids = db.session.scalars(
        insert(Product).returning(_p.id, sort_by_parameter_order=True), rows
    ).all()
    search.remember_terms(new_ids)
    _count_products(Counter(row["category_id"] for row in rows))
    return [
        ProductView(
            new_id, item.name, item.description, item.price, item.image, category, item.stock
        )
        for new_id, (item, category) in zip(new_ids, kept, strict=True)
    ]


def update_product(product_id: int, patch: ProductPatch) -> ProductView | None:
    """Apply the fields set in `patch`; None when the product does not exist."""
    product = db.session.get(Product, product_id)
    if product is None:
        return None
    bump_catalog_version()
    changes = patch.model_dump(exclude_unset=True)
    if "category" in changes:
        category = changes.pop("category")
        new_category = ensure_categories([category])[textfold.fold(category)][0]
        if new_category != product.category_id:
            _count_products({product.category_id: -1, new_category: 1})
            product.category_id = new_category
    for field, value in changes.items():
        setattr(product, field, value)
    db.session.flush()
    search.remember_terms([product_id])
    return get_product(product_id)


def delete_product(product_id: int) -> bool:
    """Delete a product (its cart lines go with it); False when it did not exist.

    On False the caller rolls back, as for any write that changed nothing (the bump with it).
    """
    bump_catalog_version()
    category_id = db.session.execute(
        delete(Product).where(_p.id == product_id).returning(_p.category_id)
    ).scalar()
    if category_id is None:
        return False
    _count_products({category_id: -1})
    return True


def _count_products(changes: Mapping[int, int]) -> None:
    """Add `changes` (category id -> products added or removed) to the stored counts."""
    for category_id, change in changes.items():
        if change:
            db.session.execute(
                update(Category)
                .where(_c.id == category_id)
                .values(product_count=_c.product_count + change)
            )
