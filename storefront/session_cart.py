"""The link between a browser session and its cart: the token in Flask's signed cookie.

A guest's session holds its cart's token; a signed-in customer's cart is found through their
sign-in (see session_account.py), the same cart on every device they sign in on.
"""

from __future__ import annotations

from flask import current_app, session

from . import cart, checkout
from .cart_merge import merge_guest_cart
from .session_account import signed_in_user
from .session_cookie import needs_refresh

SESSION_KEY = "cart"


def current_token() -> str | None:
    """This session's cart token, or None (a forged or tampered cookie reads as no session)."""
    user = signed_in_user()
    if user is not None:
        return user.signed.cart_token
    token = session.get(SESSION_KEY)
    return token if isinstance(token, str) and 16 <= len(token) <= 64 else None


def token_for_write() -> str:
    """This session's cart token, made (and put in the cookie) on the first change."""
    user = signed_in_user()
    if user is not None:
        # The customer's cart was removed (`carts purge`): make them a new one.
        return (
            user.signed.cart_token or merge_guest_cart(None, user.customer.id, limits()).cart_token
        )
    token = current_token()
    if token is None:
        token = cart.new_token()
        session[SESSION_KEY] = token
        session.permanent = True
    elif needs_refresh(session):
        # Re-send the cookie so its 30-day lifetime starts again from this change (at most
        # once a day: signing it again on every add cost ~0.1 ms of each).
        session.permanent = True
        session.modified = True
    return token


def limits() -> cart.CartLimits:
    """The configured cart limits."""
    config = current_app.config
    return cart.CartLimits(config["MAX_LINE_QUANTITY"], config["MAX_CART_LINES"])


def pricing() -> checkout.Pricing:
    """The configured delivery terms and currency."""
    config = current_app.config
    return checkout.Pricing(
        config["DELIVERY_FEE"], config["FREE_DELIVERY_FROM"], config["STORE_CURRENCY"]
    )
