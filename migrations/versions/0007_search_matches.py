"""Every match of a common search, by category and price with its relevance, kept per catalog
version and shared by every process: it counts and pages the search under any filter.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "search_matches",
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("catalog_version", sa.BigInteger(), nullable=False),
        sa.Column("keys", sa.LargeBinary(), nullable=True),
        sa.Column("ids", sa.LargeBinary(), nullable=True),
        sa.Column("scores", sa.LargeBinary(), nullable=True),
        sa.Column("ranks", sa.LargeBinary(), nullable=True),
        sa.Column(
            "counted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("words", name=op.f("pk_search_matches")),
    )


def downgrade():
    op.drop_table("search_matches")
