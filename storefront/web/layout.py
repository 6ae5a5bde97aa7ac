"""What every page's layout needs: prices and counts for people, the header's cart count."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import (
    NumberPattern,
    format_decimal,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    parse_pattern,
)
from flask import current_app
from flask_babel import get_locale, to_user_timezone
from jinja2 import pass_context
from jinja2.runtime import Context

from ..accounts import CustomerView
from ..cart import get_cart
from ..languages import LANGUAGES
from ..session_account import signed_in_user
from ..session_cart import current_token
from ..template_gettext import translator_for_locale
from . import bp
from .navigation import this_page


# Babel's patterns, not a hand-written formatter: each locale's own currency pattern, without
# the decimals for whole amounts: "2 599 ₽" and "2 599,50 ₽" in Russian (no-break spaces),
# "RUB 2,599" and "RUB 2,599.50" in English.
def format_money(value: Decimal, currency: str | None = None, locale: Locale | None = None) -> str:
    """A price for people in the interface's (or the given) locale and the store's currency."""
    locale = locale or get_locale()
    currency = currency or current_app.config["STORE_CURRENCY"]
    whole = value == value.to_integral_value()
    parts = _money_parts(locale, currency)
    if parts is not None and value >= 0:
        # The same text Babel's pattern gives (tests/web/test_money_format.py compares them
        # over many amounts), in a tenth of its time: a catalog page shows 20 prices.
        prefix, suffix, group, decimal = parts
        digits = f"{value:,.0f}" if whole else f"{value:,.2f}"
        return prefix + digits.translate({44: group, 46: decimal}) + suffix
    pattern = _money_pattern(locale, currency, whole)
    return pattern.apply(value, locale, currency=currency, currency_digits=False)


@lru_cache(maxsize=64)
def _money_parts(locale: Locale, currency: str) -> tuple[str, str, str, str] | None:
    """The locale's money pattern taken apart for amounts of 0 and more: what comes before and
    after the digits, the group and decimal symbols. None when the pattern is not the plain
    "groups of three, two decimals" that Python's `,` format can write (then Babel formats)."""
    whole, cents = _money_pattern(locale, currency, True), _money_pattern(locale, currency, False)
    if whole.grouping != (3, 3) or whole.int_prec[0] != 1 or cents.frac_prec != (2, 2):
        return None
    if "'" in whole.prefix[0] + whole.suffix[0]:
        return None  # a quoted literal in the pattern: leave it to Babel
    symbol = get_currency_symbol(currency, locale)
    return (
        whole.prefix[0].replace("¤", symbol),
        whole.suffix[0].replace("¤", symbol),
        get_group_symbol(locale),
        get_decimal_symbol(locale),
    )


@lru_cache(maxsize=64)
def _money_pattern(locale: Locale, currency: str, whole: bool) -> NumberPattern:
    """The locale's currency pattern, parsed once (`format_currency` parses it for every price).

    A symbol made of letters ("RUB" in English) gets a no-break space next to the digits, as
    CLDR's currency spacing rule says and Babel does not apply ("RUB2,599" otherwise).
    """
    text = locale.currency_formats["standard"].pattern
    symbol = get_currency_symbol(currency, locale)
    if symbol[-1:].isalpha():
        text = text.replace("¤#", "¤\u00a0#").replace("¤0", "¤\u00a00")
    if symbol[:1].isalpha():
        text = text.replace("0¤", "0\u00a0¤")
    pattern = parse_pattern(text)
    if whole:
        pattern.frac_prec = (0, 0)
    return pattern


# The filters take the locale the page renders in from its context (layout_context puts it
# there once): get_locale() per call was most of a price's or a count's cost, and a catalog
# page formats 20 prices and 50 category counts. Macros imported without context ask it.
@bp.app_template_filter("money")
@pass_context
def money_filter(context: Context, value: Decimal, currency: str | None = None) -> str:
    """`format_money` in the page's locale."""
    return format_money(value, currency, context.get("interface_locale"))


@bp.app_template_filter("count")
@pass_context
def count_filter(context: Context, value: int, exact: bool = True) -> str:
    """`format_count` in the page's locale."""
    return format_count(value, exact, context.get("interface_locale"))


@bp.app_template_filter("datetime")
def format_moment(value: datetime) -> str:
    """A moment for people: to the minute, in the shop's time zone and the interface's locale."""
    # "3 дек. 2026 г., 17:05", "Dec 3, 2026, 5:05 PM": the locale's medium date and short time,
    # joined as the locale joins them (its "medium" time would add seconds).
    locale = get_locale()
    moment = to_user_timezone(value)
    return get_datetime_format("medium", locale).format(
        format_time(moment, "short", locale=locale), format_date(moment, "medium", locale=locale)
    )


def format_count(value: int, exact: bool = True, locale: Locale | None = None) -> str:
    """A count for people: `10 000`, and `10 000+` when the count stopped at the cap."""
    text = _decimal(value, locale or get_locale())
    return text if exact else f"{text}+"


@lru_cache(maxsize=4096)
def _decimal(value: int, locale: Locale) -> str:
    # The same category counts appear on every catalog page.
    return format_decimal(value, locale=locale)


def signed_in_customer() -> CustomerView | None:
    """Who is signed in, for the header (one lookup, shared with the cart's)."""
    user = signed_in_user()
    return user.customer if user is not None else None


def header_cart_count() -> int:
    """How many items the session's cart holds (no cart row is made by asking)."""
    return get_cart(current_token()).total_quantity


@bp.app_context_processor
def layout_context() -> dict[str, object]:
    """Give every template the locale, the language switch's choices and where it returns to,
    and a lazy cart count (error pages skip the query)."""
    locale = get_locale()
    translate = translator_for_locale()
    return {
        # `_` with the page's translations found once, not per call (template_gettext).
        "_": translate,
        "gettext": translate,
        "header_cart_count": header_cart_count,
        "signed_in_customer": signed_in_customer,
        "interface_locale": locale,
        "locale_code": str(locale),
        "languages": LANGUAGES,
        "this_page": this_page,
        "currency_symbol": _currency_symbol(current_app.config["STORE_CURRENCY"], locale),
    }


@lru_cache(maxsize=64)
def _currency_symbol(currency: str, locale: Locale) -> str:
    return get_currency_symbol(currency, locale)
