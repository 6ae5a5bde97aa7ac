"""The session cart as JSON: every change answers the whole cart."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, jsonify

from .. import cart, fastsql
from ..errors import ApiError, validation_error
from ..ratelimit import CART, rate_limited
from ..schemas import CartAdd, CartUpdate
from ..session_cart import current_token, limits, token_for_write
from . import bp
from .body import parse_body, read_json
from .views import cart_json

ITEM = "/cart/<id:item_id>/"


def _respond(view: cart.CartView, status: int = 200) -> tuple[Response, int, dict[str, str]]:
    body = cart_json(view, current_app.config["STORE_CURRENCY"])
    return jsonify(body), status, {"Cache-Control": "no-store"}


def _change(operation: Callable[[], cart.CartView], status: int = 200):
    """Run a cart change in one transaction; a refused change leaves the cart as it was."""
    try:
        with fastsql.transaction():
            view = operation()
    except cart.CartError as exc:
        raise cart_problem(exc) from exc
    return _respond(view, status)


def cart_problem(error: cart.CartError) -> ApiError:
    """The problem+json error for a refused cart change."""
    if error.status == 404:
        return ApiError(404, str(error))
    return validation_error([{"loc": ["body", error.field], "msg": str(error)}])


@bp.get("/cart/", strict_slashes=False)
def get_cart():
    """The session's cart (empty when it has none; nothing is created)."""
    return _respond(cart.get_cart(current_token()))


@bp.post("/cart/", strict_slashes=False)
@rate_limited(CART)
def add_to_cart():
    """Add a product; the same product again grows its line."""
    data = parse_body(CartAdd)
    return _change(
        lambda: cart.add_to_cart(token_for_write(), data.product_id, data.quantity, limits()), 201
    )


@bp.put(ITEM, strict_slashes=False)
@rate_limited(CART)
def set_quantity(item_id: int):
    """Set a line's quantity; 0 removes it."""
    data = parse_body(CartUpdate)
    return _change(lambda: cart.set_quantity(current_token(), item_id, data.quantity, limits()))


@bp.delete(ITEM, strict_slashes=False)
@rate_limited(CART)
def remove_line(item_id: int):
    """Remove a line."""
    read_json()
    return _change(lambda: cart.remove_line(current_token(), item_id))


@bp.delete("/cart/", strict_slashes=False)
@rate_limited(CART)
def clear_cart():
    """Empty the cart."""
    read_json()
    return _change(lambda: cart.clear_cart(current_token()))
