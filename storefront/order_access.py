"""Who may open an order: the session that placed it, its customer, or the key from its mail."""

from __future__ import annotations

from . import orders
from .session_account import signed_in_user
from .session_cart import current_token


def may_open(record: orders.OrderRecord, key: str | None) -> bool:
    """Whether this request may read (and, while new, cancel) the order."""
    user = signed_in_user()
    if user is not None and record.customer_id == user.customer.id:
        return True
    token = current_token()
    return bool(token and token == record.session_token) or orders.key_opens(record, key)


def own_orders(limit: int, offset: int, **filters: str | None) -> orders.OrderPage:
    """This session's orders: the signed-in customer's, or those of the guest's cart token."""
    user = signed_in_user()
    if user is not None:
        return orders.list_orders(
            limit=limit, offset=offset, customer_id=user.customer.id, **filters
        )
    return orders.list_orders(limit=limit, offset=offset, session_token=current_token(), **filters)
