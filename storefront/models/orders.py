"""Orders and their lines: what was bought, for how much, and where it goes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

STATUSES = ("new", "confirmed", "shipped", "delivered", "cancelled")
DELIVERY_METHODS = ("pickup", "courier")
PAYMENT_METHODS = ("on_delivery", "invoice")
# A cart holds up to 100 lines of up to 99 units at up to 1 000 000 000: totals need 13 digits
# before the point, more than a price's NUMERIC(12,2).
Total = Numeric(15, 2)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Order(db.Model):
    """A placed order: contact, delivery and payment as the shopper gave them, totals fixed."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_one_of("status", STATUSES), name="status_known"),
        CheckConstraint(_one_of("delivery_method", DELIVERY_METHODS), name="delivery_known"),
        CheckConstraint(_one_of("payment_method", PAYMENT_METHODS), name="payment_known"),
        CheckConstraint("delivery_fee >= 0 AND subtotal >= 0 AND total >= 0", name="money"),
        Index("ix_orders_created", "created_at", "id"),
        Index("ix_orders_session", "session_token", "created_at", "id"),
        Index("ix_orders_email", "email_key", "created_at", "id"),
        Index("ix_orders_customer", "customer_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Short and readable over the phone; grants nothing by itself.
    number: Mapped[str] = mapped_column(String(32), unique=True)
    # The secret in the order's mail links: opens the order without the session.
    access_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="new", server_default="new")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The browser session (its cart token) that placed the order: it may read and cancel it.
    session_token: Mapped[str | None] = mapped_column(String(64))
    # The customer who placed it, or whose guest session placed it before they signed in.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254))
    # The email folded for case-insensitive lookups; `email` keeps what was typed.
    email_key: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32))
    delivery_method: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(500))
    delivery_fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    payment_method: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    subtotal: Mapped[Decimal] = mapped_column(Total)
    total: Mapped[Decimal] = mapped_column(Total)
    currency: Mapped[str] = mapped_column(String(3))
    # The interface language the order was placed in: its mails are written in it.
    locale: Mapped[str] = mapped_column(String(8), default="ru", server_default="ru")


class OrderLine(db.Model):
    """One product of an order, with its name and price at the moment of ordering."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 99", name="quantity_range"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # Null once the product is deleted: the line keeps its name and price.
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    quantity: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[Decimal] = mapped_column(Total)
