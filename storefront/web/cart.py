"""Cart pages: the cart, and the forms that change it.

Each form posts. Without JavaScript the answer is a redirect with a flash message
(post/redirect/get); an htmx request gets the fragment it aims at, plus an out-of-band
update of the header's cart count. A refused change (say, over the quantity limit) answers
htmx with 200 and the message in the fragment: the message is the answer the page asked for,
and a 4xx would also be logged as an error in the browser's console.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import cart, fastsql
from ..ratelimit import CART, rate_limited
from ..schemas import MAX_ID
from ..session_cart import current_token, limits, token_for_write
from . import bp
from .htmx import is_htmx_for
from .navigation import next_url

CART_ID = "cart"
NOTICE_ID = "notice"
LINE = "/cart/items/<id:item_id>"


class FormError(Exception):
    """A form value that is not what the form asks for."""


def _refusal(error: cart.CartError) -> str:
    """Why a cart change was refused, in the interface's language."""
    max_quantity = current_app.config["MAX_LINE_QUANTITY"]
    if isinstance(error, cart.ProductNotFound):
        return _("Этого товара уже нет в каталоге.")
    if isinstance(error, cart.LineNotFound):
        return _("Этой позиции уже нет в корзине: возможно, её убрали в другой вкладке.")
    if isinstance(error, cart.StockLimit):
        if error.stock == 0:
            return _("Этого товара нет в наличии.")
        return _("В наличии только %(count)d шт.", count=error.stock)
    if isinstance(error, cart.LineLimit):
        return _(
            "В корзине может быть не больше %(count)d разных товаров.",
            count=current_app.config["MAX_CART_LINES"],
        )
    return _("Одного товара можно положить не больше %(count)d шт.", count=max_quantity)


def _form_int(key: str, low: int) -> int:
    """A whole number of at least `low` from the posted form (upper limits are the cart's)."""
    text = (request.form.get(key) or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 9 and int(text) >= low:
        return int(text)
    high = current_app.config["MAX_LINE_QUANTITY"]
    raise FormError(_("Введите целое число от %(low)d до %(high)d.", low=low, high=high))


def _answer(
    view: cart.CartView, message: str, status: int, line_id: int | None, kind: str
) -> ResponseReturnValue:
    """The answer to a cart form: a fragment for htmx, else a redirect with a flash message."""
    failed = status >= 400
    kind = "error" if failed else kind
    if is_htmx_for(CART_ID) or is_htmx_for(NOTICE_ID):
        status = 200
    if is_htmx_for(CART_ID):
        # The message goes next to its line, or above the cart when that line is gone.
        if line_id not in {line.id for line in view.lines}:
            line_id = None
        html = render_template(
            "cart/_cart.html",
            cart=view,
            fragment=True,
            error=message if failed else None,
            error_line=line_id,
            oob_notices=[] if failed else [(kind, message)],
        )
        return make_response(html, status)
    if is_htmx_for(NOTICE_ID):
        html = render_template(
            "_notice.html", notices=[(kind, message)], cart_count_oob=view.total_quantity
        )
        return make_response(html, status)
    flash(message, kind)
    return redirect(next_url(url_for("web.show_cart")), 303)


def _change(
    operation: Callable[[], cart.CartView],
    message: str,
    line_id: int | None = None,
    kind: str = "success",
) -> ResponseReturnValue:
    """Run one cart change in its own transaction and answer it."""
    try:
        with fastsql.transaction():
            view = operation()
    except (FormError, cart.CartError) as exc:
        if isinstance(exc, FormError):
            why, status = str(exc), 422
        else:
            why, status = _refusal(exc), exc.status
        return _answer(cart.get_cart(current_token()), why, status, line_id, kind)
    return _answer(view, message, 200, line_id, kind)


@bp.get("/cart")
def show_cart() -> ResponseReturnValue:
    """The cart page."""
    view = cart.get_cart(current_token())
    return render_template("cart/index.html", cart=view, fragment=False, notices=None)


@bp.post("/cart/add")
@rate_limited(CART)
def add_to_cart() -> ResponseReturnValue:
    """Add a product (the same product again grows its line)."""

    def add() -> cart.CartView:
        try:
            product_id = _form_int("product_id", 1)
        except FormError:
            raise cart.ProductNotFound() from None
        if product_id > MAX_ID:
            raise cart.ProductNotFound()
        # The catalog's buttons add one and send no quantity field.
        quantity = _form_int("quantity", 1) if "quantity" in request.form else 1
        return cart.add_to_cart(token_for_write(), product_id, quantity, limits())

    # "added" notices also link to the cart.
    return _change(add, _("Товар добавлен в корзину."), kind="added")


@bp.post(LINE)
@rate_limited(CART)
def set_quantity(item_id: int) -> ResponseReturnValue:
    """Set a line's quantity; the − and + buttons send a step to apply to the typed number."""

    def update() -> cart.CartView:
        quantity = _form_int("quantity", 0)
        step = request.form.get("step")
        if step in {"-1", "1"}:
            quantity = max(0, quantity + int(step))
        return cart.set_quantity(current_token(), item_id, quantity, limits())

    return _change(update, _("Количество изменено."), item_id)


@bp.post(f"{LINE}/remove")
@rate_limited(CART)
def remove_line(item_id: int) -> ResponseReturnValue:
    """Remove one line."""
    return _change(
        lambda: cart.remove_line(current_token(), item_id), _("Товар убран из корзины."), item_id
    )


@bp.post("/cart/clear")
@rate_limited(CART)
def clear_cart() -> ResponseReturnValue:
    """Remove every line."""
    return _change(lambda: cart.clear_cart(current_token()), _("Корзина очищена."))
