"""Catalog and cart schema, with PostgreSQL search columns and indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEARCH_VECTOR = postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite")

# Generated on PostgreSQL from the app-written name_key (folded name) and the description,
# folded the same way as storefront.textfold.fold. SQLite leaves these columns NULL.
_FOLDED_DESCRIPTION = "translate(lower(description), 'ё', 'е')"
STEMS_SQL = (
    "setweight(to_tsvector('russian'::regconfig, name_key), 'A') || "
    f"setweight(to_tsvector('russian'::regconfig, {_FOLDED_DESCRIPTION}), 'B')"
)
WORDS_SQL = (
    "setweight(to_tsvector('simple'::regconfig, name_key), 'A') || "
    f"setweight(to_tsvector('simple'::regconfig, {_FOLDED_DESCRIPTION}), 'B')"
)


def _search_vector(name: str, expression: str, postgres: bool) -> sa.Column:
    if postgres:
        return sa.Column(name, SEARCH_VECTOR, sa.Computed(expression, persisted=True))
    return sa.Column(name, SEARCH_VECTOR, nullable=True)


def _require_utf8_ctype(bind: sa.Connection) -> None:
    ctype = bind.exec_driver_sql(
        "SELECT datctype FROM pg_database WHERE datname = current_database()"
    ).scalar_one()
    if "utf" not in ctype.lower().replace("-", ""):
        raise RuntimeError(
            f"This database has LC_CTYPE={ctype!r}. Under it PostgreSQL cannot lower-case, "
            "stem or trigram-match Cyrillic, so search would silently fail. Create the "
            "database with a UTF-8 ctype, e.g.: CREATE DATABASE storefront ENCODING 'UTF8' "
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0; "
            "(or initdb --locale=C.UTF-8 --encoding=UTF8), then run the migration again."
        )


def upgrade():
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        _require_utf8_ctype(bind)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_categories_name")),
        sa.UniqueConstraint("name_key", name=op.f("uq_categories_name_key")),
        sa.UniqueConstraint("slug", name=op.f("uq_categories_slug")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("image", sa.String(length=2000), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        _search_vector("search_stems", STEMS_SQL, postgres),
        _search_vector("search_words", WORDS_SQL, postgres),
        sa.CheckConstraint(
            "length(description) <= 5000", name=op.f("ck_products_description_length")
        ),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 200", name=op.f("ck_products_name_length")),
        sa.CheckConstraint(
            "price > 0 AND price <= 1000000000", name=op.f("ck_products_price_range")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_products_category_id_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    # Filter + sort paths: each ends with id so paging is stable.
    op.create_index("ix_products_category_price", "products", ["category_id", "price", "id"])
    op.create_index("ix_products_category_name", "products", ["category_id", "name_key", "id"])
    op.create_index("ix_products_price", "products", ["price", "id"])
    op.create_index("ix_products_name_key", "products", ["name_key", "id"])
    op.create_index("ix_products_created", "products", ["created_at", "id"])
    if postgres:
        op.create_index("ix_products_stems", "products", ["search_stems"], postgresql_using="gin")
        op.create_index("ix_products_words", "products", ["search_words"], postgresql_using="gin")
        op.create_index(
            "ix_products_search_trgm",
            "products",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )

    op.create_table(
        "carts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carts")),
        sa.UniqueConstraint("token", name=op.f("uq_carts_token")),
    )
    op.create_index(op.f("ix_carts_updated_at"), "carts", ["updated_at"])
    op.create_table(
        "cart_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("quantity BETWEEN 1 AND 99", name=op.f("ck_cart_items_quantity_range")),
        sa.ForeignKeyConstraint(
            ["cart_id"], ["carts.id"], name=op.f("fk_cart_items_cart_id_carts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_cart_items_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_items")),
        sa.UniqueConstraint("cart_id", "product_id", name=op.f("uq_cart_items_cart_id")),
    )
    op.create_index(op.f("ix_cart_items_product_id"), "cart_items", ["product_id"])


def downgrade():
    op.drop_table("cart_items")
    op.drop_table("carts")
    op.drop_table("products")
    op.drop_table("categories")
