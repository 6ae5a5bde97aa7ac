"""The checkout page: contact, delivery and payment, the order summary, and placing the order.

The form uses the API's field names and its validation (`CheckoutIn`). It carries the cart
total the shopper saw (`cart_total`) and its own idempotency key, so a double click or a
resent form places one order. Without JavaScript a placed order redirects (303) to its page;
htmx gets `HX-Redirect`. Anything to fix comes back in the form (200) with the typed values.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal

from flask import flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import ValidationError

from .. import checkout, fastsql, idempotency
from ..checkout_schemas import CheckoutIn, delivery_address, parse_amount
from ..models.orders import DELIVERY_METHODS, PAYMENT_METHODS
from ..order_placing import place_requested_order
from ..orders import DELIVERY_TITLES, PAYMENT_TITLES
from ..ratelimit import CART, rate_limited
from ..session_account import signed_in_user
from ..session_cart import current_token, pricing
from . import bp
from .htmx import is_htmx, is_htmx_for

FORM_ID = "checkout"
SUMMARY_ID = "checkout-summary"
FIELDS = ("email", "name", "phone", "delivery", "address", "payment", "comment")
# How long a repeated form waits for the first submission of its key to finish.
REPEAT_WAIT_SECONDS = 5.0

# What to fix, per field, in the interface's language (pydantic's messages are for the API).
FIELD_MESSAGES = {
    "email": _l("Введите адрес электронной почты, например ivan@example.ru."),
    "name": _l("Введите имя: от 1 до 200 символов."),
    "phone": _l("Введите телефон: цифры, пробелы, + ( ) -, не меньше 5 цифр и до 32 символов."),
    "delivery": _l("Выберите способ доставки."),
    "address": _l("Для доставки курьером укажите адрес: от 5 до 500 символов."),
    "payment": _l("Выберите способ оплаты."),
    "comment": _l("Комментарий: не длиннее 1000 символов."),
}


@dataclass
class CheckoutForm:
    """What the shopper typed, and a message per field to fix."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @classmethod
    def blank(cls) -> CheckoutForm:
        """An empty form with pickup and payment on delivery chosen."""
        values = dict.fromkeys(FIELDS, "")
        values.update(delivery="pickup", payment="on_delivery")
        return cls(values)

    @classmethod
    def posted(cls) -> CheckoutForm:
        """The form as posted (the key it carried, when it is a well-formed one)."""
        values = {name: (request.form.get(name) or "").strip() for name in FIELDS}
        form = cls(values)
        key = request.form.get("idempotency_key") or ""
        if idempotency.valid_key(key):
            form.key = key
        return form

    def body(self, expected_total: Decimal) -> dict[str, object]:
        """The API's checkout body for these values."""
        v = self.values
        return {
            "email": v["email"],
            "name": v["name"],
            "phone": v["phone"],
            "delivery": {"method": v["delivery"], "address": v["address"] or None},
            "payment": v["payment"],
            "comment": v["comment"],
            "expected_total": expected_total,
        }


def _field_of(loc: tuple[object, ...]) -> str:
    if loc[:2] == ("delivery", "address"):
        return "address"
    return str(loc[0]) if loc and loc[0] in FIELD_MESSAGES else "delivery"


def _validate(form: CheckoutForm, expected_total: Decimal) -> CheckoutIn | None:
    """The validated request, or None with `form.errors` saying what to fix."""
    data = None
    try:
        data = CheckoutIn.model_validate(form.body(expected_total))
    except ValidationError as exc:
        for error in exc.errors():
            form.errors[_field_of(tuple(error["loc"]))] = ""
    if form.values["delivery"] == "courier" and not form.values["address"]:
        form.errors["address"] = ""
    for name in form.errors:
        form.errors[name] = str(FIELD_MESSAGES[name])
    return None if form.errors else data


def _page(form: CheckoutForm, notices: list[tuple[str, str]] | None = None) -> ResponseReturnValue:
    """The checkout page, or its form alone for htmx."""
    quote = checkout.quote(current_token(), pricing())
    method = form.values["delivery"] if form.values["delivery"] in DELIVERY_METHODS else "pickup"
    context = {
        "form": form,
        "quote": quote,
        "method": method,
        "delivery_titles": DELIVERY_TITLES,
        "payment_titles": PAYMENT_TITLES,
        "payment_methods": PAYMENT_METHODS,
        "notices": notices or [],
    }
    if is_htmx_for(FORM_ID):
        return render_template("checkout/_form.html", fragment=True, **context)
    if is_htmx_for(SUMMARY_ID):
        return render_template("checkout/_summary.html", fragment=True, **context)
    return render_template("checkout/index.html", fragment=False, **context)


@bp.get("/checkout")
def show_checkout() -> ResponseReturnValue:
    """The checkout form with the cart's summary (`?delivery=` picks the method shown)."""
    form = CheckoutForm.blank()
    user = signed_in_user()
    if user is not None:
        # A signed-in customer's details are prefilled (they may change them here).
        customer = user.customer
        form.values.update(
            email=customer.email,
            name=customer.name,
            phone=customer.phone or "",
            address=customer.address or "",
        )
    if request.args.get("delivery") in DELIVERY_METHODS:
        form.values["delivery"] = request.args["delivery"]
    return _page(form)


def _placed(number: str) -> ResponseReturnValue:
    """Go to the order's page: a 303 without JavaScript, HX-Redirect for htmx."""
    target = url_for("web.show_order", number=number)
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def _claim(token: str, form: CheckoutForm, body: dict[str, object]):
    """Claim the form's key, waiting a little while its first submission is still running."""
    print_ = idempotency.fingerprint("POST", url_for("web.place_order"), body)
    deadline = time.monotonic() + REPEAT_WAIT_SECONDS
    while True:
        try:
            return idempotency.claim(token, form.key, print_)
        except idempotency.KeyInProgress:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@bp.post("/checkout")
@rate_limited(CART)
def place_order() -> ResponseReturnValue:
    """Place the order, or show the form again with what to fix."""
    form = CheckoutForm.posted()
    token = current_token()
    try:
        cart_total = parse_amount(request.form.get("cart_total") or "")
    except ValueError:
        cart_total = Decimal(0)
    fee = pricing().fee(form.values["delivery"], cart_total)
    data = _validate(form, cart_total + fee)
    if data is None:
        return _page(form, [("error", _("Проверьте отмеченные поля."))])
    if not token:
        return _empty_cart()
    body = form.body(data.expected_total)
    try:
        claimed = _claim(token, form, body)
    except idempotency.KeyReused:
        form.key = CheckoutForm.blank().key
        return _page(form, [("error", _("Эта форма уже была отправлена. Проверьте заказ."))])
    except idempotency.KeyInProgress:
        return _page(form, [("error", _("Заказ ещё оформляется. Обновите страницу чуть позже."))])
    if isinstance(claimed, idempotency.Replay):
        return _placed(claimed.order_number or "")
    try:
        # One transaction: the order, its mails and the form key's answer, or nothing.
        with fastsql.transaction():
            order = place_requested_order(token, data, delivery_address(data.delivery)[0])
            idempotency.complete(claimed, 303, "", order.id)
    except checkout.CheckoutError as exc:
        idempotency.release(claimed)
        return _refused(form, exc)
    flash(_("Заказ %(number)s оформлен. Письмо с подтверждением придёт на %(email)s.",
            number=order.number, email=order.email), "success")  # fmt: skip
    return _placed(order.number)


def _empty_cart() -> ResponseReturnValue:
    message = _("Корзина пуста: добавьте товары, чтобы оформить заказ.")
    if is_htmx():
        flash(message, "error")
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url_for("web.show_cart")
        return response
    flash(message, "error")
    return redirect(url_for("web.show_cart"), 303)


def _refused(form: CheckoutForm, error: checkout.CheckoutError) -> ResponseReturnValue:
    """The form again, saying what changed: short stock, a new price, or an empty cart."""
    form.key = CheckoutForm.blank().key
    if isinstance(error, checkout.CartEmpty):
        return _empty_cart()
    if isinstance(error, checkout.OutOfStock):
        names = {
            line.product.id: line.product.name
            for line in checkout.quote(current_token(), pricing()).cart.lines
        }
        lines = [
            _("«%(name)s»: в наличии %(available)d шт., в корзине %(requested)d.",
              name=names.get(s.product_id, ""), available=s.available, requested=s.requested)
            for s in error.lines
        ]  # fmt: skip
        message = _("Столько товара уже нет: %(lines)s Измените количество в корзине.",
                    lines=" ".join(lines))  # fmt: skip
        return _page(form, [("error", message)])
    return _page(
        form,
        [("error", _("Цены изменились. Проверьте сумму и подтвердите заказ ещё раз."))],
    )
