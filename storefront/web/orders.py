"""The order page (for the session that placed it, or with the key from its mail) and cancelling."""

from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import orders
from ..extensions import db
from ..order_access import may_open
from ..orders import DELIVERY_TITLES, PAYMENT_TITLES
from ..ratelimit import CART, rate_limited
from . import bp

NUMBER = re.compile(r"[A-Za-z0-9-]{4,32}")


def _status_text(status: str) -> str:
    return str(orders.STATUS_TITLES[status])


def _owned_order(number: str, key: str | None, *, for_update: bool = False) -> orders.OrderRecord:
    """The order when this session placed it or `key` is its key; a 404 page otherwise."""
    record = orders.get_order(number, for_update=for_update) if NUMBER.fullmatch(number) else None
    if record is None:
        abort(404)
    if not may_open(record, key):
        abort(404)
    return record


@bp.get("/orders/<number>")
def show_order(number: str) -> ResponseReturnValue:
    """Status, lines, totals, delivery, payment instructions; cancel while new."""
    key = request.args.get("key")
    record = _owned_order(number, key)
    return render_template(
        "orders/show.html",
        order=record.view,
        key=key if orders.key_opens(record, key) else None,
        status_text=_status_text(record.view.status),
        delivery_title=DELIVERY_TITLES[record.view.delivery_method],
        payment_title=PAYMENT_TITLES[record.view.payment_method],
        payment_details=current_app.config["SHOP_PAYMENT_DETAILS"],
    )


@bp.post("/orders/<number>/cancel")
@rate_limited(CART)
def cancel_order(number: str) -> ResponseReturnValue:
    """Cancel a new order; its tracked stock goes back on sale."""
    key = request.form.get("key") or None
    record = _owned_order(number, key, for_update=True)
    target = url_for("web.show_order", number=record.view.number, key=key)
    if record.view.status != "new":
        db.session.rollback()
        flash(_("Этот заказ уже нельзя отменить: его статус — «%(status)s».",
                status=_status_text(record.view.status)), "error")  # fmt: skip
        return redirect(target, 303)
    orders.change_status(record, "cancelled")
    db.session.commit()
    flash(_("Заказ %(number)s отменён.", number=record.view.number), "success")
    return redirect(target, 303)
