"""What every page's layout needs: prices and counts for people, the header's cart count."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_decimal, get_currency_symbol, parse_pattern
from flask import current_app
from flask_babel import format_datetime, get_locale

from ..cart import get_cart
from ..languages import LANGUAGES
from ..session_cart import current_token
from . import bp
from .navigation import this_page

# Babel's patterns, not a hand-written formatter: "2 599 ₽" (no-break spaces) for whole
# amounts, "2 599,50 ₽" when there are kopecks (the whole-amount pattern would round them away).
# Parsed once: `format_currency` parses its pattern again for every price (a catalog page
# shows 20 of them), which was most of its cost.
WHOLE_AMOUNT = parse_pattern("#,##0\u00a0¤")
WITH_CENTS = parse_pattern("#,##0.00\u00a0¤")


@bp.app_template_filter("money")
def format_money(value: Decimal, currency: str | None = None) -> str:
    """A price for people in the interface's locale and the store's currency."""
    pattern = WHOLE_AMOUNT if value == value.to_integral_value() else WITH_CENTS
    currency = currency or current_app.config["STORE_CURRENCY"]
    return pattern.apply(value, get_locale(), currency=currency, currency_digits=False)


@bp.app_template_filter("datetime")
def format_moment(value: datetime) -> str:
    """A moment for people: date and time in the shop's time zone and the interface's locale."""
    return format_datetime(value, "medium")


@bp.app_template_filter("count")
def format_count(value: int, exact: bool = True) -> str:
    """A count for people: `10 000`, and `10 000+` when the count stopped at the cap."""
    text = _decimal(value, get_locale())
    return text if exact else f"{text}+"


@lru_cache(maxsize=4096)
def _decimal(value: int, locale: Locale) -> str:
    # The same category counts appear on every catalog page.
    return format_decimal(value, locale=locale)


def header_cart_count() -> int:
    """How many items the session's cart holds (no cart row is made by asking)."""
    return get_cart(current_token()).total_quantity


@bp.app_context_processor
def layout_context() -> dict[str, object]:
    """Give every template the locale, the language switch's choices and where it returns to,
    and a lazy cart count (error pages skip the query)."""
    locale = get_locale()
    return {
        "header_cart_count": header_cart_count,
        "locale_code": str(locale),
        "languages": LANGUAGES,
        "this_page": this_page,
        "currency_symbol": get_currency_symbol(current_app.config["STORE_CURRENCY"], locale),
    }
