"""What every page's layout needs: prices and counts for people, the header's cart count."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal, get_currency_symbol
from flask import current_app
from flask_babel import get_locale

from ..cart import get_cart
from ..session_cart import current_token
from . import bp

# Babel's patterns, not a hand-written formatter: "2 599 ₽" (no-break spaces) for whole
# amounts, "2 599,50 ₽" when there are kopecks (the whole-amount pattern would round them away).
WHOLE_AMOUNT = "#,##0\u00a0¤"
WITH_CENTS = "#,##0.00\u00a0¤"


@bp.app_template_filter("money")
def format_money(value: Decimal, currency: str | None = None) -> str:
    """A price for people in the interface's locale and the store's currency."""
    pattern = WHOLE_AMOUNT if value == value.to_integral_value() else WITH_CENTS
    return format_currency(
        value,
        currency or current_app.config["STORE_CURRENCY"],
        format=pattern,
        currency_digits=False,
        locale=get_locale(),
    )


@bp.app_template_filter("count")
def format_count(value: int, exact: bool = True) -> str:
    """A count for people: `10 000`, and `10 000+` when the count stopped at the cap."""
    text = format_decimal(value, locale=get_locale())
    return text if exact else f"{text}+"


def header_cart_count() -> int:
    """How many items the session's cart holds (no cart row is made by asking)."""
    return get_cart(current_token()).total_quantity


@bp.app_context_processor
def layout_context() -> dict[str, object]:
    """Give every template the locale and a lazy cart count (error pages skip the query)."""
    locale = get_locale()
    return {
        "header_cart_count": header_cart_count,
        "locale_code": str(locale),
        "currency_symbol": get_currency_symbol(current_app.config["STORE_CURRENCY"], locale),
    }
