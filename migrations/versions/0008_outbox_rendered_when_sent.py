"""Outbox rows whose subject and parts are rendered when they are sent: a new order's mails.

The columns only lose NOT NULL: no table rewrite. Going back is refused while such a row waits
to be sent (the code before this revision cannot render it); rows already sent get empty texts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = (("subject", sa.String(300)), ("body_text", sa.Text()), ("body_html", sa.Text()))


def upgrade():
    with op.batch_alter_table("outbox") as batch:
        for name, type_ in _COLUMNS:
            batch.alter_column(name, existing_type=type_, nullable=True)


def downgrade():
    waiting = op.get_bind().execute(
        sa.text("SELECT count(*) FROM outbox WHERE body_text IS NULL AND sent_at IS NULL")
    )
    if waiting.scalar_one():
        raise RuntimeError(
            "mails of new orders wait in the outbox to be rendered when sent: "
            "deliver them first (flask --app storefront mail send), then downgrade"
        )
    for name, _ in _COLUMNS:
        op.execute(sa.text(f"UPDATE outbox SET {name} = '' WHERE {name} IS NULL"))
    with op.batch_alter_table("outbox") as batch:
        for name, type_ in _COLUMNS:
            batch.alter_column(name, existing_type=type_, nullable=False)
