"""Placing this request's order: the validated checkout body, with the session's cart,
pricing, language and customer, handed to `checkout.place_order` (the API and the page alike)."""

from __future__ import annotations

from flask_babel import get_locale

from . import checkout
from .checkout_schemas import CheckoutIn
from .orders import OrderView
from .session_account import signed_in_customer_id
from .session_cart import pricing


def place_requested_order(token: str | None, data: CheckoutIn, address: str | None) -> OrderView:
    """The order of `token`'s cart with `data`'s details (in the caller's transaction).

    Raises checkout.CheckoutError with the contract's code when the cart cannot be ordered.
    """
    details = checkout.CheckoutDetails(
        email=data.email,
        name=data.name,
        phone=data.phone,
        delivery_method=data.delivery.method,
        address=address,
        payment_method=data.payment,
        comment=data.comment,
    )
    return checkout.place_order(
        token,
        details,
        data.expected_total,
        pricing(),
        str(get_locale()),
        customer_id=signed_in_customer_id(),
    )
