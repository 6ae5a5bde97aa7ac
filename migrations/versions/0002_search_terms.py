"""The search vocabulary: every word of the catalog, for typo-tolerant search.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "search_terms",
        sa.Column("term", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_search_terms")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO search_terms (term) "
            "SELECT DISTINCT unnest(tsvector_to_array(search_words)) FROM products"
        )


def downgrade():
    op.drop_table("search_terms")
