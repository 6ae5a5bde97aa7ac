"""The checkout and order operations of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from ...checkout_schemas import CHECKOUT_CODES, GENERIC_CODES
from ...models.orders import STATUSES
from .builders import ADMIN_SCHEME, SESSION_SCHEME, operation, query_param, ref, session_security

CODED = "CodedProblem"
PROBLEM = "application/problem+json"
NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]{4,32}$"},
    "description": "The order number (any case), such as 7K3M-Q9XD.",
}
KEY = query_param(
    "key",
    {"type": "string", "maxLength": 64},
    "The order's secret access key, from the link in its mails.",
)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
    "description": "Repeating a request with the same key (same session, within 24 hours) "
    "answers the first one's order and places nothing new; the same key with another body: "
    "422 `idempotency_key_reused`; while the first is still running: 409 `in_progress`. A "
    "refused request leaves its key unused.",
}
# Who may read an order: its session, the admin, or anyone with `?key=` (no credentials).
OWNER_OR_ADMIN = [{}, {SESSION_SCHEME: []}, {ADMIN_SCHEME: []}]
CODES_TEXT = (
    "Every problem here carries a `code`: "
    + ", ".join(f"`{code}`" for code in CHECKOUT_CODES)
    + "; else one by status ("
    + ", ".join(f"`{code}`" for code in GENERIC_CODES)
    + ")."
)


def _conflict(description: str, schema: str = CODED) -> dict[str, Any]:
    return {"409": {"description": description, "content": {PROBLEM: {"schema": ref(schema)}}}}


def order_paths(count_cap: int) -> dict[str, Any]:
    """Checkout, orders and their operations."""
    order = ref("Order")
    common: dict[str, Any] = {"tag": "orders", "problem_schema": CODED}
    return {
        "/api/checkout/": {
            "get": operation(
                "getCheckout",
                "The session's cart with its delivery and payment methods",
                (200, "What the checkout shows.", ref("CheckoutOut")),
                session=True,
                **common,
            ),
            "post": operation(
                "placeOrder",
                "Place an order from the session's cart",
                (201, "The order.", order),
                (400, 403, 413, 415, 422, 429),
                body=ref("CheckoutIn"),
                params=[IDEMPOTENCY_KEY],
                session=True,
                headers={"Location": {"schema": {"type": "string"}}},
                description="`expected_total` is the total the shopper agreed to (cart plus "
                "delivery fee). In one transaction: the order and its lines with today's names "
                "and prices, tracked stock taken, the cart emptied, the mails queued. "
                + CODES_TEXT,
                other_responses=_conflict(
                    "`cart_empty`; `out_of_stock` with the short `items` (checked before "
                    "price); `price_changed` with today's `cart` and `total`; `in_progress` "
                    "(Idempotency-Key). Nothing was written.",
                    "CheckoutConflict",
                ),
                **common,
            ),
        },
        "/api/orders/": {
            "get": operation(
                "listOrders",
                "Orders, newest first",
                (200, "A page of orders.", ref("OrderPage")),
                (422,),
                params=[
                    query_param(
                        "status",
                        {"type": "string", "enum": ["", *STATUSES]},
                        "Only orders in this status.",
                    ),
                    query_param(
                        "email",
                        {"type": "string", "maxLength": 254},
                        "Only orders of this email (case-insensitive).",
                    ),
                    query_param(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                        "Page size.",
                        allow_empty=True,
                    ),
                    query_param(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": count_cap, "default": 0},
                        "Orders to skip.",
                        allow_empty=True,
                    ),
                ],
                security=OWNER_OR_ADMIN,
                description="With the admin token every order; otherwise this session's "
                "(an empty list for a new visitor). " + CODES_TEXT,
                **common,
            ),
        },
        "/api/orders/{number}/": {
            "get": operation(
                "getOrder",
                "One order",
                (200, "The order.", order),
                (404,),
                params=[NUMBER, KEY],
                security=OWNER_OR_ADMIN,
                description="For the session that placed it, the admin, or with `?key=`; "
                "anyone else gets 404, whether or not the number exists.",
                **common,
            ),
            "patch": operation(
                "updateOrder",
                "Move an order along its statuses",
                (200, "The order.", order),
                (400, 404, 413, 415, 422),
                body=ref("StatusIn"),
                params=[NUMBER],
                admin=True,
                description="new → confirmed → shipped → delivered; new or confirmed → "
                "cancelled (tracked stock goes back). Confirmed, shipped and cancelled mail "
                "the shopper.",
                other_responses=_conflict("`invalid_transition`."),
                **common,
            ),
        },
        "/api/orders/{number}/cancel/": {
            "post": operation(
                "cancelOrder",
                "Cancel an order while it is new",
                (200, "The cancelled order.", order),
                (403, 404, 415, 429),
                params=[NUMBER, KEY],
                security=session_security(),
                description="For the session that placed it or with `?key=`; tracked stock "
                "goes back and the shopper is mailed.",
                other_responses=_conflict("`invalid_transition`: the order is no longer new."),
                **common,
            ),
        },
    }
