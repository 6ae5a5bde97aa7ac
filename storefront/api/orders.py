"""Orders as JSON: read one or a page of them, move them along, cancel them."""

from __future__ import annotations

import re

from flask import Response, current_app, jsonify, request

from .. import orders
from ..checkout_schemas import StatusIn
from ..errors import ApiError, validation_error
from ..extensions import db
from ..filters import Issue, read_limit_offset
from ..models.orders import STATUSES
from ..order_access import may_open, own_orders
from ..ratelimit import ADMIN, CART, rate_limited
from . import bp
from .auth import admin_required, is_admin_request
from .body import parse_body, read_json
from .views import order_json, order_page_json

ORDER = "/orders/<number>/"
NUMBER = re.compile(r"[A-Za-z0-9-]{4,32}")
NO_STORE = {"Cache-Control": "no-store"}


def _not_found(number: str) -> ApiError:
    return ApiError(404, f"There is no order {number} that you may see.")


def _visible_order(number: str, *, for_update: bool = False) -> orders.OrderRecord:
    """The order if this request may see it (its session, the admin, or its `?key=`), else 404.

    A stranger gets the same 404 whether or not the number exists: a number grants nothing.
    """
    record = orders.get_order(number, for_update=for_update) if NUMBER.fullmatch(number) else None
    if record is None or not _may_see(record):
        raise _not_found(number)
    return record


def _owns(record: orders.OrderRecord) -> bool:
    """Whether the request comes from the order's session or customer, or has its key."""
    return may_open(record, request.args.get("key"))


def _may_see(record: orders.OrderRecord) -> bool:
    return is_admin_request() or _owns(record)


@bp.get(ORDER, strict_slashes=False)
def get_order(number: str) -> tuple[Response, int, dict[str, str]]:
    """One order, for its session, its key's holder or the admin."""
    return jsonify(order_json(_visible_order(number).view)), 200, NO_STORE


@bp.get("/orders/", strict_slashes=False)
def list_orders() -> tuple[Response, int, dict[str, str]]:
    """Newest first: every order for the admin, else the session's; filters status, email."""
    limit, offset, issues = read_limit_offset(request.args, current_app.config["COUNT_CAP"])
    status = request.args.get("status") or None
    email = request.args.get("email") or None
    if status is not None and status not in STATUSES:
        issues.append(Issue(("query", "status"), "must be one of: " + ", ".join(STATUSES)))
    if email is not None and len(email) > 254:
        issues.append(Issue(("query", "email"), "must be at most 254 characters"))
    if issues:
        raise validation_error([{"loc": list(i.loc), "msg": i.msg} for i in issues])
    filters = {"limit": limit, "offset": offset, "status": status, "email": email}
    if is_admin_request():
        page = orders.list_orders(everyone=True, **filters)
    else:
        page = own_orders(**filters)
    return jsonify(order_page_json(page)), 200, NO_STORE


def _transition(record: orders.OrderRecord, wanted: str) -> Response:
    try:
        view = orders.change_status(record, wanted)
    except orders.OrderError as exc:
        db.session.rollback()
        raise ApiError(409, str(exc), code=exc.code) from exc
    db.session.commit()
    return jsonify(order_json(view))


@bp.patch(ORDER, strict_slashes=False)
@rate_limited(ADMIN)
@admin_required
def update_order(number: str) -> Response:
    """The admin moves an order along: new → confirmed → shipped → delivered, or cancelled."""
    data = parse_body(StatusIn)
    return _transition(_visible_order(number, for_update=True), data.status)


@bp.post("/orders/<number>/cancel/", strict_slashes=False)
@rate_limited(CART)
def cancel_order(number: str) -> Response:
    """The shopper cancels their order while it is new; its tracked stock goes back."""
    read_json()
    record = orders.get_order(number, for_update=True) if NUMBER.fullmatch(number) else None
    if record is None or not _owns(record):
        raise _not_found(number)
    if record.view.status != "new":
        raise ApiError(
            409,
            f"An order that is {record.view.status} can no longer be cancelled by the shopper.",
            code="invalid_transition",
        )
    return _transition(record, "cancelled")
