"""Orders: how they read, and the statuses they move through. No HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Which status may follow which (the contract's pipeline); anything else is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"confirmed", "cancelled"}),
    "confirmed": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset({"delivered"}),
    "delivered": frozenset(),
    "cancelled": frozenset(),
}


@dataclass(frozen=True, slots=True)
class OrderLineView:
    """One line of an order: the product's name and price at the moment of ordering."""

    product_id: int | None
    name: str
    unit_price: Decimal
    quantity: int
    line_total: Decimal


@dataclass(frozen=True)
class OrderView:
    """An order as the shopper, the shop and the mails see it."""

    id: int
    number: str
    access_key: str
    status: str
    created_at: datetime
    email: str
    name: str
    phone: str
    delivery_method: str
    address: str | None
    delivery_fee: Decimal
    payment_method: str
    comment: str
    items: list[OrderLineView]
    subtotal: Decimal
    total: Decimal
    currency: str
    locale: str
