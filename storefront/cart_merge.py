"""Signing in: the guest's cart joins the customer's cart, and the guest's orders become theirs.

One transaction, in the caller's. The customer's cart row is made (if missing) and locked
first, then the guest's: two sign-ins of one guest at once run one after the other, and the
second finds the guest's cart already merged and gone. A merged line holds min(sum,
MAX_LINE_QUANTITY, tracked stock); a product with stock 0 adds nothing; lines past
MAX_CART_LINES are left out. No HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, insert, select, text, update

from .cart import CartLimits, new_token
from .extensions import db
from .models import Cart, CartItem, Order, Product

_cart = Cart.__table__
_item = CartItem.__table__
_p = Product.__table__
_o = Order.__table__

# Makes the customer's cart when they have none; either way it is then locked (SQLite: the
# write lock) before anything is read.
_ENSURE = text(
    "INSERT INTO carts (token, customer_id) VALUES (:token, :customer_id) "
    "ON CONFLICT (customer_id) DO NOTHING"
)
_LOCK = text(
    "UPDATE carts SET updated_at = CURRENT_TIMESTAMP WHERE customer_id = :customer_id "
    "RETURNING id, token"
)
_GUEST_LINES = (
    select(_item.c.product_id, _item.c.quantity, _p.c.name, _p.c.stock)
    .join(_p, _p.c.id == _item.c.product_id)
    .where(_item.c.cart_id == bindparam("cart_id"))
    .order_by(_item.c.id)
)


@dataclass
class MergeReport:
    """What the guest's cart brought: lines merged, lines cut down, products left out."""

    cart_token: str
    merged: list[tuple[str, int]] = field(default_factory=list)
    reduced: list[tuple[str, int, int]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def merge_guest_cart(guest_token: str | None, customer_id: int, limits: CartLimits) -> MergeReport:
    """Move the guest cart's lines into the customer's cart; returns the customer's cart token."""
    db.session.execute(_ENSURE, {"token": new_token(), "customer_id": customer_id})
    cart_id, cart_token = db.session.execute(_LOCK, {"customer_id": customer_id}).one()
    report = MergeReport(cart_token)
    if not guest_token or guest_token == cart_token:
        return report
    guest_id = db.session.execute(
        text(
            "UPDATE carts SET updated_at = CURRENT_TIMESTAMP "
            "WHERE token = :token AND customer_id IS NULL RETURNING id"
        ),
        {"token": guest_token},
    ).scalar()
    if guest_id is not None:
        _merge_lines(guest_id, cart_id, limits, report)
        db.session.execute(delete(_cart).where(_cart.c.id == guest_id))
    # Orders this browser placed as a guest are the customer's now.
    db.session.execute(
        update(_o)
        .where(_o.c.session_token == guest_token, _o.c.customer_id.is_(None))
        .values(customer_id=customer_id)
    )
    return report


def _merge_lines(guest_id: int, cart_id: int, limits: CartLimits, report: MergeReport) -> None:
    held = {
        row.product_id: (row.id, row.quantity)
        for row in db.session.execute(
            select(_item.c.id, _item.c.product_id, _item.c.quantity).where(
                _item.c.cart_id == cart_id
            )
        )
    }
    lines = len(held)
    for line in db.session.execute(_GUEST_LINES, {"cart_id": guest_id}).all():
        if line.stock == 0:
            report.left_out.append(line.name)
            continue
        existing = held.get(line.product_id)
        wanted = line.quantity + (existing[1] if existing else 0)
        cap = limits.max_quantity if line.stock is None else min(limits.max_quantity, line.stock)
        quantity = min(wanted, cap)
        if existing:
            db.session.execute(
                update(_item).where(_item.c.id == existing[0]).values(quantity=quantity)
            )
        elif lines < limits.max_lines:
            db.session.execute(
                insert(_item).values(cart_id=cart_id, product_id=line.product_id, quantity=quantity)
            )
            lines += 1
        else:
            report.left_out.append(line.name)
            continue
        if quantity < wanted:
            report.reduced.append((line.name, wanted, quantity))
        else:
            report.merged.append((line.name, quantity))
