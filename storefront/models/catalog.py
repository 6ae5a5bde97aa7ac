"""The catalog: categories, products, the search vocabulary, the matches of common searches
and the catalog's version."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    event,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import textfold
from ..extensions import db

# Search vectors: generated tsvector columns on PostgreSQL; on SQLite plain columns left NULL
# (SQLite search reads `search_text` only). Alembic cannot compare generated expressions and
# only warns about them; migrations/env.py silences that one warning.
SearchVector = TSVECTOR().with_variant(Text(), "sqlite")
_FOLDED_DESCRIPTION = "translate(lower(description), 'ё', 'е')"
STEMS_SQL = (
    "setweight(to_tsvector('russian'::regconfig, name_key), 'A') || "
    f"setweight(to_tsvector('russian'::regconfig, {_FOLDED_DESCRIPTION}), 'B')"
)
WORDS_SQL = (
    "setweight(to_tsvector('simple'::regconfig, name_key), 'A') || "
    f"setweight(to_tsvector('simple'::regconfig, {_FOLDED_DESCRIPTION}), 'B')"
)


def postgresql_only(index: Index) -> Index:
    """Create `index` on PostgreSQL only (migrations/env.py skips it elsewhere)."""
    index.info["dialect"] = "postgresql"
    return index.ddl_if(dialect="postgresql")


class Category(db.Model):
    """A product category; its slug is made once from the name and never changes."""

    __tablename__ = "categories"
    __table_args__ = (CheckConstraint("product_count >= 0", name="product_count_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Case-insensitive identity of the name (the API matches categories that way).
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    # Kept by every catalog write (inventory.py, pg_load.py, pg_rebuild.py): counting 1M rows
    # per request to list categories costs ~300 ms.
    product_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    products: Mapped[list[Product]] = relationship(back_populates="category")


class Product(db.Model):
    """A catalog item; the search columns are derived from name and description."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price > 0 AND price <= 1000000000", name="price_range"),
        CheckConstraint("length(name) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint("length(description) <= 5000", name="description_length"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        Index("ix_products_category_price", "category_id", "price", "id"),
        Index("ix_products_category_name", "category_id", "name_key", "id"),
        Index("ix_products_price", "price", "id"),
        Index("ix_products_name_key", "name_key", "id"),
        Index("ix_products_created", "created_at", "id"),
        postgresql_only(Index("ix_products_stems", "search_stems", postgresql_using="gin")),
        postgresql_only(Index("ix_products_words", "search_words", postgresql_using="gin")),
        postgresql_only(
            Index(
                "ix_products_search_trgm",
                "search_text",
                postgresql_using="gin",
                postgresql_ops={"search_text": "gin_trgm_ops"},
            )
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    image: Mapped[str | None] = mapped_column(String(2000))
    # Units on hand; None when the shop does not track this product's stock (always available).
    stock: Mapped[int | None] = mapped_column(Integer)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Derived from name and description by `_fill_search_columns` (and the bulk loaders).
    name_key: Mapped[str] = mapped_column(String(200))
    search_text: Mapped[str] = mapped_column(Text)
    search_stems: Mapped[str | None] = mapped_column(
        SearchVector, Computed(STEMS_SQL, persisted=True), deferred=True
    )
    search_words: Mapped[str | None] = mapped_column(
        SearchVector, Computed(WORDS_SQL, persisted=True), deferred=True
    )

    category: Mapped[Category] = relationship(back_populates="products", lazy="joined")


class SearchTerm(db.Model):
    """A word of the catalog (PostgreSQL's `simple` lexemes), for typo-tolerant search."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(Text, primary_key=True)


class CatalogVersion(db.Model):
    """One row counting the catalog's committed changes (see `storefront.catalog_version`)."""

    __tablename__ = "catalog_version"
    # One row only: every catalog write updates it, every cached read compares with it.
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class SearchMatches(db.Model):
    """Every match of a common search, kept at one catalog version (see
    `storefront.match_counts`): what counts such a search under any filter without rows."""

    __tablename__ = "search_matches"

    # The search's folded words, space-separated.
    words: Mapped[str] = mapped_column(Text, primary_key=True)
    catalog_version: Mapped[int] = mapped_column(BigInteger)
    # Each match as `category_id << 40 | price in cents`, sorted (then by id), as big-endian
    # 8-byte integers; NULL when there were too many matches to keep. `ids` holds the matches'
    # ids and `scores` their relevance (one byte each), in the same order; `ranks` their
    # positions in that order by relevance, then id (4-byte integers).
    keys: Mapped[bytes | None] = mapped_column(LargeBinary)
    ids: Mapped[bytes | None] = mapped_column(LargeBinary)
    scores: Mapped[bytes | None] = mapped_column(LargeBinary)
    ranks: Mapped[bytes | None] = mapped_column(LargeBinary)
    counted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@event.listens_for(Category, "before_insert")
def _fill_category_key(_mapper, _connection, category: Category) -> None:
    """Derive the case-insensitive identity of a category's name."""
    category.name_key = textfold.fold(category.name)


@event.listens_for(Product, "before_insert")
@event.listens_for(Product, "before_update")
def _fill_search_columns(_mapper, _connection, product: Product) -> None:
    """Derive the sort key and the search haystack from name and description."""
    product.name_key = textfold.fold(product.name)
    product.search_text = textfold.search_text(product.name, product.description or "")
