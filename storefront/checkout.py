"""Checkout: what delivering this session's cart costs, and turning the cart into an order.

No HTTP here: the API and the pages call `quote` and `place_order` with a cart token.
`place_order` runs in the caller's transaction and raises a `CheckoutError` (which carries the
contract's `code`) before writing anything the caller would have to keep; the caller commits
on success and rolls back on an error.

Concurrency: the cart row is locked first (an UPDATE, which also takes SQLite's write lock),
so two checkouts of one cart run one after the other and the second finds it empty. Then the
cart's products are locked in id order (`FOR NO KEY UPDATE`), so two carts racing for the
last unit never deadlock, and stock read under the lock is what the decrement sees: the one
that locks second finds the stock already gone and is refused with `out_of_stock`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import bindparam, delete, insert, select, text, update

from . import cart, fastsql, orders
from .models import CartItem, Order, OrderLine, Product
from .models.orders import DELIVERY_METHODS
from .orders import OrderLineView, OrderView

_p = Product.__table__
_item = CartItem.__table__
_order = Order.__table__
_line = OrderLine.__table__

# Order numbers are read over the phone: no 0/O, 1/I/L.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
NUMBER_ATTEMPTS = 5


@dataclass(frozen=True)
class Pricing:
    """The shop's delivery terms and currency (from configuration)."""

    delivery_fee: Decimal
    free_delivery_from: Decimal
    currency: str

    def fee(self, method: str, subtotal: Decimal) -> Decimal:
        """What delivery by `method` costs for a cart of `subtotal`."""
        if method == "courier" and subtotal < self.free_delivery_from:
            return self.delivery_fee
        return Decimal(0)


@dataclass(frozen=True)
class Quote:
    """The session's cart and what each delivery method would cost with it."""

    cart: cart.CartView
    fees: dict[str, Decimal]

    def total(self, method: str) -> Decimal:
        """The cart's total with delivery by `method`."""
        return self.cart.total_price + self.fees[method]


@dataclass(frozen=True)
class CheckoutDetails:
    """What the shopper typed, already validated."""

    email: str
    name: str
    phone: str
    delivery_method: str
    address: str | None
    payment_method: str
    comment: str = ""


@dataclass(frozen=True)
class ShortLine:
    """A cart line that asks for more than its product's tracked stock."""

    item_id: int
    product_id: int
    requested: int
    available: int


class CheckoutError(Exception):
    """A checkout that cannot go through; nothing is written. `code` is the contract's."""

    code = "checkout_refused"


class CartEmpty(CheckoutError):
    """There is nothing in the cart to order."""

    code = "cart_empty"


class OutOfStock(CheckoutError):
    """Some lines ask for more than is in stock."""

    code = "out_of_stock"

    def __init__(self, lines: list[ShortLine]) -> None:
        super().__init__("Some products are not in stock in the quantity asked for.")
        self.lines = lines


class PriceChanged(CheckoutError):
    """Today's total differs from the one the shopper agreed to."""

    code = "price_changed"

    def __init__(self, view: cart.CartView, total: Decimal) -> None:
        super().__init__("The total has changed since the shopper saw it.")
        self.cart = view
        self.total = total


def quote(token: str | None, pricing: Pricing) -> Quote:
    """The cart of `token` and the fee of each delivery method for it."""
    view = cart.get_cart(token)
    fees = {method: pricing.fee(method, view.total_price) for method in DELIVERY_METHODS}
    return Quote(view, fees)


# The cart's lines with what the order needs of their products, locked in product id order.
_LOCKED_LINES = fastsql.Statement(
    select(
        _item.c.id.label("item_id"),
        _item.c.quantity,
        _p.c.id.label("product_id"),
        _p.c.name,
        _p.c.price,
        _p.c.stock,
    )
    .join(_p, _p.c.id == _item.c.product_id)
    .where(_item.c.cart_id == bindparam("cart_id"))
    .order_by(_p.c.id)
    .with_for_update(of=_p, key_share=True)
)
# Locks the cart row until commit (SQLite: takes the database's write lock) and finds its id.
_LOCK_CART = fastsql.Statement(
    text("UPDATE carts SET updated_at = CURRENT_TIMESTAMP WHERE token = :token RETURNING id")
)
_EMPTY_CART = fastsql.Statement(delete(_item).where(_item.c.cart_id == bindparam("cart_id")))
_TAKE_STOCK = fastsql.Statement(
    update(_p)
    .where(_p.c.id == bindparam("pid"), _p.c.stock >= bindparam("quantity"))
    .values(stock=_p.c.stock - bindparam("quantity"))
)
_INSERT_LINE = fastsql.Statement(
    insert(_line).values(
        {
            name: bindparam(name, type_=_line.c[name].type)
            for name in ("order_id", "product_id", "name", "unit_price", "quantity", "line_total")
        }
    )
)


class _Line(NamedTuple):
    """A locked cart line (`_LOCKED_LINES`'s columns, in order)."""

    item_id: int
    quantity: int
    product_id: int
    name: str
    price: Decimal
    stock: int | None


def place_order(
    token: str | None,
    details: CheckoutDetails,
    expected_total: Decimal,
    pricing: Pricing,
    locale: str,
    customer_id: int | None = None,
) -> OrderView:
    """Turn the cart of `token` into an order, in the caller's transaction.

    Stock is checked before price. Raises CartEmpty, OutOfStock or PriceChanged, having
    written nothing the caller must keep (it rolls back).
    """
    cart_id = _LOCK_CART.scalar({"token": token}) if token else None
    if cart_id is None:
        raise CartEmpty("The cart is empty.")
    lines = [_Line(*row) for row in _LOCKED_LINES.rows({"cart_id": cart_id})]
    if not lines:
        raise CartEmpty("The cart is empty.")
    short = [
        ShortLine(line.item_id, line.product_id, line.quantity, line.stock)
        for line in lines
        if line.stock is not None and line.quantity > line.stock
    ]
    if short:
        raise OutOfStock(sorted(short, key=lambda s: s.item_id))
    subtotal = sum((line.price * line.quantity for line in lines), Decimal(0))
    fee = pricing.fee(details.delivery_method, subtotal)
    if subtotal + fee != expected_total:
        raise PriceChanged(cart.get_cart(token), subtotal + fee)

    now = datetime.now(UTC)
    values = {
        "access_key": secrets.token_urlsafe(24),
        "status": "new",
        "created_at": now,
        "updated_at": now,
        "session_token": token,
        "customer_id": customer_id,
        "email": details.email,
        "email_key": orders.email_key(details.email),
        "name": details.name,
        "phone": details.phone,
        "delivery_method": details.delivery_method,
        "address": details.address if details.delivery_method == "courier" else None,
        "delivery_fee": fee,
        "payment_method": details.payment_method,
        "comment": details.comment,
        "subtotal": subtotal,
        "total": subtotal + fee,
        "currency": pricing.currency,
        "locale": locale,
    }
    # The stock taken and the order inserted go together (one round trip on PostgreSQL).
    # The decrements are guarded as well as locked: the CHECK (stock >= 0) is the last line of
    # defence.
    taken = [
        (_TAKE_STOCK, {"pid": line.product_id, "quantity": line.quantity})
        for line in lines
        if line.stock is not None
    ]
    number = new_number()
    inserted = fastsql.together(*taken, (_INSERT_ORDER, {**values, "number": number}))[-1]
    if inserted:
        order_id = inserted[0][0]
    else:  # the number was taken (about 1 in 10^11): draw again
        order_id, number = _insert_order(values)
    items = [
        OrderLineView(
            line.product_id, line.name, line.price, line.quantity, line.price * line.quantity
        )
        for line in sorted(lines, key=lambda line: line.item_id)
    ]
    view = OrderView(
        id=order_id,
        number=number,
        access_key=values["access_key"],
        status="new",
        created_at=now,
        email=details.email,
        name=details.name,
        phone=details.phone,
        delivery_method=details.delivery_method,
        address=values["address"],
        delivery_fee=fee,
        payment_method=details.payment_method,
        comment=details.comment,
        items=items,
        subtotal=subtotal,
        total=subtotal + fee,
        currency=pricing.currency,
        locale=locale,
    )
    # The lines, the emptied cart and the queued mails go together (one round trip).
    fastsql.together(
        *(
            (
                _INSERT_LINE,
                {
                    "order_id": order_id,
                    "product_id": item.product_id,
                    "name": item.name,
                    "unit_price": item.unit_price,
                    "quantity": item.quantity,
                    "line_total": item.line_total,
                },
            )
            for item in items
        ),
        (_EMPTY_CART, {"cart_id": cart_id}),
        *orders.new_order_mails(view),
    )
    return view


def new_number() -> str:
    """A random order number such as `7K3M-Q9XD`: short, unambiguous, not a sequence."""
    chars = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


_ORDER_COLUMNS = (
    "number", "access_key", "status", "created_at", "updated_at", "session_token",
    "customer_id", "email", "email_key", "name", "phone", "delivery_method", "address",
    "delivery_fee",
    "payment_method", "comment", "subtotal", "total", "currency", "locale",
)  # fmt: skip
# Text, not Core: a clash of numbers must not abort the transaction (a savepoint would cost
# two more round trips), and SQLAlchemy does not cache its dialect ON CONFLICT constructs.
_INSERT_ORDER = fastsql.Statement(
    text(
        f"INSERT INTO orders ({', '.join(_ORDER_COLUMNS)}) "
        f"VALUES ({', '.join(':' + name for name in _ORDER_COLUMNS)}) "
        "ON CONFLICT (number) DO NOTHING RETURNING id"
    ).bindparams(*(bindparam(name, type_=_order.c[name].type) for name in _ORDER_COLUMNS))
)


def _insert_order(values: dict[str, object]) -> tuple[int, str]:
    """Insert the order under a fresh number (a clash, about 1 in 10^11, draws again)."""
    for _ in range(NUMBER_ATTEMPTS):
        number = new_number()
        order_id = _INSERT_ORDER.scalar({**values, "number": number})
        if order_id is not None:
            return order_id, number
    raise RuntimeError("could not draw a free order number")
