"""Orders: how they read, and the statuses they move through. No HTTP here."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, update

from . import fastsql
from .extensions import db
from .models import Order, OrderLine, Product

# What each status means to the shopper, in the interface's language.
STATUS_TITLES = {
    "new": _l("Принят, ждёт подтверждения"),
    "confirmed": _l("Подтверждён"),
    "shipped": _l("Передан в доставку"),
    "delivered": _l("Получен"),
    "cancelled": _l("Отменён"),
}
# What shoppers read for each delivery and payment method.
DELIVERY_TITLES = {"pickup": _l("Самовывоз из магазина"), "courier": _l("Доставка курьером")}
PAYMENT_TITLES = {
    "on_delivery": _l("Оплата при получении (наличными или картой)"),
    "invoice": _l("Счёт на оплату (банковский перевод)"),
}
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


@dataclass(frozen=True)
class OrderRecord:
    """An order and who may see it: the session that placed it (its cart token)."""

    view: OrderView
    session_token: str | None
    customer_id: int | None


@dataclass(frozen=True)
class OrderPage:
    """One page of orders, newest first."""

    items: list[OrderView]
    total: int
    limit: int
    offset: int


class OrderError(Exception):
    """A change an order cannot take; `code` is the contract's."""

    code = "invalid_transition"


class InvalidTransition(OrderError):
    """The order's status may not move to the one asked for."""

    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"An order that is {current} cannot become {wanted}.")
        self.current = current
        self.wanted = wanted


def email_key(email: str) -> str:
    """The form of an email address that lookups compare (case-insensitive)."""
    return email.strip().lower()


def normalise_number(number: str) -> str:
    """An order number as typed or read out (any case, spaces around) as stored."""
    return number.strip().upper()


_o = Order.__table__
_l = OrderLine.__table__
_p = Product.__table__
_ORDER_COLUMNS = [c for c in _o.c if c.name not in {"email_key", "updated_at"}]
_BY_NUMBER = select(*_ORDER_COLUMNS).where(_o.c.number == bindparam("number"))
_BY_ID = select(*_ORDER_COLUMNS).where(_o.c.id == bindparam("id"))
_LINES = (
    select(_l.c.order_id, _l.c.product_id, _l.c.name, _l.c.unit_price, _l.c.quantity)
    .add_columns(_l.c.line_total)
    .where(_l.c.order_id.in_(bindparam("ids", expanding=True)))
    .order_by(_l.c.id)
)


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _views(rows: list) -> list[OrderView]:
    """Order views for order rows, their lines read in one query."""
    if not rows:
        return []
    lines: dict[int, list[OrderLineView]] = {row.id: [] for row in rows}
    for line in db.session.execute(_LINES, {"ids": list(lines)}):
        lines[line.order_id].append(OrderLineView(*line[1:]))
    return [
        OrderView(
            id=row.id,
            number=row.number,
            access_key=row.access_key,
            status=row.status,
            created_at=_aware(row.created_at),
            email=row.email,
            name=row.name,
            phone=row.phone,
            delivery_method=row.delivery_method,
            address=row.address,
            delivery_fee=row.delivery_fee,
            payment_method=row.payment_method,
            comment=row.comment,
            items=lines[row.id],
            subtotal=row.subtotal,
            total=row.total,
            currency=row.currency,
            locale=row.locale,
        )
        for row in rows
    ]


def get_order(number: str, *, for_update: bool = False) -> OrderRecord | None:
    """The order with `number`, or None; `for_update` locks it until the transaction ends."""
    statement = _BY_NUMBER.with_for_update() if for_update else _BY_NUMBER
    row = db.session.execute(statement, {"number": normalise_number(number)}).first()
    if row is None:
        return None
    return OrderRecord(_views([row])[0], row.session_token, row.customer_id)


def order_view(order_id: int) -> OrderView | None:
    """The order with this id as the mails see it, or None (for the mail sender)."""
    row = db.session.execute(_BY_ID, {"id": order_id}).first()
    return _views([row])[0] if row is not None else None


def key_opens(record: OrderRecord, key: str | None) -> bool:
    """Whether `key` is the order's secret access key (compared in constant time)."""
    return bool(key) and hmac.compare_digest(key.encode(), record.view.access_key.encode())


def list_orders(
    *,
    limit: int,
    offset: int,
    session_token: str | None = None,
    customer_id: int | None = None,
    everyone: bool = False,
    status: str | None = None,
    email: str | None = None,
) -> OrderPage:
    """Orders newest first: every order (`everyone`), a customer's, or one guest session's."""
    conditions = []
    if customer_id is not None:
        conditions.append(_o.c.customer_id == customer_id)
    elif not everyone:
        if not session_token:
            return OrderPage([], 0, limit, offset)
        conditions.append(_o.c.session_token == session_token)
    if status is not None:
        conditions.append(_o.c.status == status)
    if email is not None:
        conditions.append(_o.c.email_key == email_key(email))
    rows = db.session.execute(
        select(*_ORDER_COLUMNS)
        .where(*conditions)
        .order_by(_o.c.created_at.desc(), _o.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    if (rows and len(rows) < limit) or (not rows and offset == 0):
        total = offset + len(rows)
    else:
        total = db.session.execute(
            select(func.count()).select_from(_o).where(*conditions)
        ).scalar_one()
    return OrderPage(_views(rows), total, limit, offset)


def change_status(record: OrderRecord, wanted: str) -> OrderView:
    """Move a locked order (see `get_order(for_update=True)`) to `wanted`, in the caller's
    transaction: a cancelled order puts its tracked stock back; the shopper is mailed."""
    view = record.view
    if wanted not in TRANSITIONS.get(view.status, frozenset()):
        raise InvalidTransition(view.status, wanted)
    db.session.execute(
        update(_o).where(_o.c.id == view.id).values(status=wanted, updated_at=datetime.now(UTC))
    )
    if wanted == "cancelled":
        _return_stock(view)
    changed = replace(view, status=wanted)
    queue_mails_for_status(changed)
    return changed


def _return_stock(view: OrderView) -> None:
    """Put the order's units back on the shelf, for products whose stock is tracked."""
    returned: dict[int, int] = {}
    for item in view.items:
        if item.product_id is not None:
            returned[item.product_id] = returned.get(item.product_id, 0) + item.quantity
    if returned:
        # Product id order, as checkout locks them: a cancel and a checkout never deadlock.
        db.session.execute(
            update(_p)
            .where(_p.c.id == bindparam("pid"), _p.c.stock.is_not(None))
            .values(stock=_p.c.stock + bindparam("quantity")),
            [{"pid": pid, "quantity": returned[pid]} for pid in sorted(returned)],
        )


def new_order_mails(view: OrderView) -> list[fastsql.Call]:
    """The statements that queue the confirmation to the shopper (and the shop's copy), for
    the caller to send in its transaction (see `outbox.queued`)."""
    from .mail import messages, outbox

    return outbox.queued(messages.order_placed(view), order_id=view.id)


def queue_mails_for_status(view: OrderView) -> None:
    """Tell the shopper about a confirmed, shipped or cancelled order (in the caller's
    transaction)."""
    from .mail import messages, outbox

    outbox.enqueue(messages.order_status_changed(view), order_id=view.id)
