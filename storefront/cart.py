"""Cart operations on a session's cart token: no HTTP here, used by the API and the pages.

Every write runs in the caller's transaction and starts by upserting the cart row, which
locks it until commit: writes to one cart are serialised, so limits checked inside that
transaction hold even under parallel requests. Adding is a single
INSERT … ON CONFLICT DO UPDATE whose quantity limit lives in the statement itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, text, update

from . import fastsql
from .catalog import PRODUCT_COLUMNS, ProductView
from .extensions import db
from .models import Cart, CartItem, Product

_cart = Cart.__table__
_item = CartItem.__table__
_p = Product.__table__.c


class CartError(Exception):
    """A cart change that cannot be made; the cart is unchanged."""

    status = 422
    field = "quantity"


class ProductNotFound(CartError):
    """The product to add does not exist."""

    status = 404
    field = "product_id"


class LineNotFound(CartError):
    """No such line in this session's cart."""

    status = 404
    field = "item_id"


class QuantityLimit(CartError):
    """The line would hold more than the limit."""


class LineLimit(CartError):
    """The cart already holds the most distinct products it may."""

    field = "product_id"


class StockLimit(CartError):
    """The line would hold more than the product's tracked stock."""

    def __init__(self, stock: int, in_cart: int = 0) -> None:
        if stock == 0:
            message = "This product is out of stock."
        elif in_cart:
            message = f"Only {stock} in stock; this cart has {in_cart} already."
        else:
            message = f"Only {stock} in stock."
        super().__init__(message)
        self.stock = stock
        self.in_cart = in_cart


@dataclass(frozen=True)
class CartLimits:
    """Per-line quantity and per-cart line limits (from configuration)."""

    max_quantity: int = 99
    max_lines: int = 100


@dataclass(frozen=True, slots=True)
class CartLine:
    """One line: a product, its quantity and the line's total at today's price."""

    id: int
    product: ProductView
    quantity: int
    line_total: Decimal

    @property
    def available(self) -> bool:
        """False when the product's tracked stock fell below this line's quantity."""
        return self.product.stock is None or self.product.stock >= self.quantity


@dataclass(frozen=True)
class CartView:
    """A whole cart, lines in the order they were first added."""

    lines: list[CartLine]
    total_quantity: int
    total_price: Decimal


EMPTY = CartView([], 0, Decimal(0))


def new_token() -> str:
    """A random cart token (192 bits)."""
    return secrets.token_urlsafe(24)


# The two upserts are written as SQL text: SQLAlchemy never caches its dialect-specific
# INSERT … ON CONFLICT constructs, and compiling them again on every add was half of an add's
# CPU time. The same text runs on PostgreSQL and SQLite (3.35+: RETURNING).
_TOUCH = fastsql.Statement(
    text(
        "INSERT INTO carts (token) VALUES (:token) "
        "ON CONFLICT (token) DO UPDATE SET updated_at = CURRENT_TIMESTAMP "
        "RETURNING id"
    )
)
# Adds a line or grows it, but only while the line stays within max_quantity and the product's
# tracked stock, and a new line fits under max_lines: the limits hold inside the statement, so
# nothing is read first (the cart row is locked, so the line's quantity cannot move meanwhile).
# The cart is found by its token, not its id: the add is sent together with the upsert of
# the cart (`fastsql.together`), which it follows in the same transaction.
_ADD = fastsql.Statement(
    text(
        "WITH cart AS (SELECT id FROM carts WHERE token = :token) "
        "INSERT INTO cart_items (cart_id, product_id, quantity) "
        "SELECT cart.id, products.id, :quantity FROM cart, products "
        "WHERE products.id = :product_id AND (products.stock IS NULL OR products.stock >= "
        " :quantity + COALESCE((SELECT quantity FROM cart_items"
        " WHERE cart_id = cart.id AND product_id = :product_id), 0)) AND ("
        " (SELECT count(*) FROM cart_items WHERE cart_id = cart.id) < :max_lines"
        " OR EXISTS (SELECT 1 FROM cart_items"
        " WHERE cart_id = cart.id AND product_id = :product_id)"
        ") "
        "ON CONFLICT (cart_id, product_id) DO UPDATE "
        "SET quantity = cart_items.quantity + excluded.quantity "
        "WHERE cart_items.quantity + excluded.quantity <= :max_quantity "
        "RETURNING id"
    )
)
# The tracked stock of a cart line's product (NULL: not tracked).
_STOCK_OF_LINE = select(_p.stock).where(_p.id == _item.c.product_id).scalar_subquery()
_LINES = fastsql.Statement(
    PRODUCT_COLUMNS.add_columns(_item.c.id.label("line_id"), _item.c.quantity)
    .join(_item, _item.c.product_id == _p.id)
    .join(_cart, _cart.c.id == _item.c.cart_id)
    .where(_cart.c.token == bindparam("token"))
    .order_by(_item.c.id)
)


def _cart_id(token: str | None) -> int | None:
    if not token:
        return None
    return db.session.execute(select(_cart.c.id).where(_cart.c.token == token)).scalar()


def _touch_cart(token: str) -> int:
    """Create the cart or mark it changed; either way lock its row until commit."""
    return _TOUCH.scalar({"token": token})


def get_cart(token: str | None) -> CartView:
    """The cart of `token`, in one query whatever its size; empty when there is none."""
    if not token:
        return EMPTY
    return _cart_view(_LINES.rows({"token": token}))


def _cart_view(rows: Sequence[Sequence[Any]]) -> CartView:
    lines = []
    for row in rows:
        product = ProductView(*row[:7])
        line_id, quantity = row[7], row[8]
        lines.append(CartLine(line_id, product, quantity, product.price * quantity))
    return CartView(
        lines,
        sum(line.quantity for line in lines),
        sum((line.line_total for line in lines), Decimal(0)),
    )


def add_to_cart(token: str, product_id: int, quantity: int, limits: CartLimits) -> CartView:
    """Add `quantity` of a product; the same product again grows its line.

    The cart's upsert (which locks its row), the add and the read of the cart go together:
    one round trip on PostgreSQL. When the add was refused, the cart read is the cart as it
    was, and a few more queries say why.
    """
    if quantity > limits.max_quantity:
        raise QuantityLimit(f"A line holds at most {limits.max_quantity} of a product.")
    touched, added, lines = fastsql.together(
        (_TOUCH, {"token": token}),
        (
            _ADD,
            {
                "token": token,
                "product_id": product_id,
                "quantity": quantity,
                "max_lines": limits.max_lines,
                "max_quantity": limits.max_quantity,
            },
        ),
        (_LINES, {"token": token}),
    )
    if not added:
        raise _why_not_added(touched[0][0], product_id, quantity, limits)
    return _cart_view(lines)


def _why_not_added(cart_id: int, product_id: int, wanted: int, limits: CartLimits) -> CartError:
    found = db.session.execute(select(_p.stock).where(_p.id == product_id)).first()
    if found is None:
        return ProductNotFound(f"There is no product {product_id}.")
    quantity = db.session.execute(
        select(_item.c.quantity).where(_item.c.cart_id == cart_id, _item.c.product_id == product_id)
    ).scalar()
    stock = found.stock
    if stock is not None and (quantity or 0) + wanted > stock:
        return StockLimit(stock, quantity or 0)
    if quantity is not None:
        return QuantityLimit(
            f"A line holds at most {limits.max_quantity}; this one has {quantity} already."
        )
    return LineLimit(f"A cart holds at most {limits.max_lines} different products.")


def set_quantity(token: str | None, item_id: int, quantity: int, limits: CartLimits) -> CartView:
    """Set a line's quantity; 0 removes the line."""
    if quantity == 0:
        return remove_line(token, item_id)
    if quantity > limits.max_quantity:
        raise QuantityLimit(f"A line holds at most {limits.max_quantity} of a product.")
    cart_id = _cart_id(token)
    if cart_id is None:
        raise LineNotFound(f"Your cart has no line {item_id}.")
    _touch_cart(token)  # type: ignore[arg-type]
    result = db.session.execute(
        update(_item)
        .where(
            and_(_item.c.id == item_id, _item.c.cart_id == cart_id),
            or_(_STOCK_OF_LINE.is_(None), quantity <= _STOCK_OF_LINE),
        )
        .values(quantity=quantity)
    )
    if result.rowcount == 0:
        stock = db.session.execute(
            select(_p.stock)
            .join(_item, _item.c.product_id == _p.id)
            .where(_item.c.id == item_id, _item.c.cart_id == cart_id)
        ).first()
        if stock is None:
            raise LineNotFound(f"Your cart has no line {item_id}.")
        raise StockLimit(stock.stock)
    return get_cart(token)


def remove_line(token: str | None, item_id: int) -> CartView:
    """Remove one line of this session's cart."""
    cart_id = _cart_id(token)
    if cart_id is None:
        raise LineNotFound(f"Your cart has no line {item_id}.")
    _touch_cart(token)  # type: ignore[arg-type]
    result = db.session.execute(
        delete(_item).where(_item.c.id == item_id, _item.c.cart_id == cart_id)
    )
    if result.rowcount == 0:
        raise LineNotFound(f"Your cart has no line {item_id}.")
    return get_cart(token)


def clear_cart(token: str | None) -> CartView:
    """Remove every line (the cart row stays, so the session keeps its cart)."""
    cart_id = _cart_id(token)
    if cart_id is not None:
        _touch_cart(token)  # type: ignore[arg-type]
        db.session.execute(delete(_item).where(_item.c.cart_id == cart_id))
    return EMPTY


def purge_carts(older_than: timedelta) -> int:
    """Delete carts unchanged for `older_than` (their lines go too); returns how many."""
    cutoff = datetime.now(UTC) - older_than
    result = db.session.execute(delete(_cart).where(_cart.c.updated_at < cutoff))
    return result.rowcount
