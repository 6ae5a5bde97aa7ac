"""Checkout as JSON: what the session's cart costs, and placing the order."""

from __future__ import annotations

from flask import Response, current_app, jsonify, url_for

from .. import checkout, fastsql, idempotency
from ..checkout_schemas import CheckoutIn, delivery_address
from ..errors import ApiError, validation_error
from ..extensions import db
from ..order_placing import place_requested_order
from ..ratelimit import CART, rate_limited
from ..session_cart import current_token, pricing
from . import bp
from .body import parse_body_with_raw
from .idempotency_key import claim_for_request
from .views import cart_json, order_json, quote_json

NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/checkout/", strict_slashes=False)
def get_checkout() -> tuple[Response, int, dict[str, str]]:
    """The session's cart with the delivery and payment methods it can be ordered with."""
    quote = checkout.quote(current_token(), pricing())
    return jsonify(quote_json(quote, current_app.config["STORE_CURRENCY"])), 200, NO_STORE


def checkout_problem(error: checkout.CheckoutError) -> ApiError:
    """The problem+json answer (409, with the contract's `code`) for a refused checkout."""
    currency = current_app.config["STORE_CURRENCY"]
    if isinstance(error, checkout.OutOfStock):
        items = [
            {
                "item_id": line.item_id,
                "product_id": line.product_id,
                "requested": line.requested,
                "available": line.available,
            }
            for line in error.lines
        ]
        return ApiError(409, str(error), code=error.code, extra={"items": items})
    if isinstance(error, checkout.PriceChanged):
        extra = {"cart": cart_json(error.cart, currency), "total": error.total}
        return ApiError(409, str(error), code=error.code, extra=extra)
    return ApiError(409, str(error), code=error.code)


@bp.post("/checkout/", strict_slashes=False)
@rate_limited(CART)
def place_order() -> Response:
    """Turn the session's cart into an order (once per Idempotency-Key)."""
    data, raw = parse_body_with_raw(CheckoutIn)
    address, issues = delivery_address(data.delivery)
    if issues:
        raise validation_error(issues)
    token = current_token()
    claimed = claim_for_request(token, raw)
    if isinstance(claimed, Response):
        return claimed
    try:
        # One transaction: the order, its mails and the key's answer, or nothing.
        with fastsql.transaction():
            order = place_requested_order(token, data, address)
            body = current_app.json.dumps(order_json(order))
            if claimed is not None:
                idempotency.complete(claimed, 201, body, order.id)
    except checkout.CheckoutError as exc:
        if claimed is not None:
            idempotency.release(claimed)
        raise checkout_problem(exc) from exc
    except Exception:
        if claimed is not None:
            _release_quietly(claimed)
        raise
    location = url_for("api.get_order", number=order.number)
    return Response(body, 201, {"Location": location, **NO_STORE}, mimetype="application/json")


def _release_quietly(claimed: idempotency.Claimed) -> None:
    """Free the key after a failure; when the database is down too, its lease runs out."""
    try:
        idempotency.release(claimed)
    except Exception:  # the original error is what the client must hear about
        db.session.rollback()
