"""Categories keep their product count, so listing them needs no count over all products.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("categories") as batch:
        batch.add_column(
            sa.Column("product_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch.create_check_constraint("product_count_positive", "product_count >= 0")
    op.execute(
        "UPDATE categories SET product_count = "
        "(SELECT count(*) FROM products WHERE products.category_id = categories.id)"
    )


def downgrade():
    with op.batch_alter_table("categories") as batch:
        batch.drop_constraint("product_count_positive", type_="check")
        batch.drop_column("product_count")
