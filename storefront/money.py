"""Exact money: parsing prices from clients and writing them back without noise."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MAX_PRICE = Decimal("1000000000")
PRICE_PATTERN = r"^\d{1,10}(\.\d{1,2})?$"


def _price_string_pattern() -> str:
    """The strings of PRICE_PATTERN whose value is in (0, MAX_PRICE]: one regex, no lookahead.

    - a whole part below 1e9 that is not all zeros: leading zeros, then 1-9 significant digits,
      10 digits at most in all; any 1-2 decimals;
    - a whole part of zeros only: decimals that are not all zeros;
    - exactly 1000000000, with zero decimals at most.
    """
    # [0-9], not \d: in some regex engines (Python's, Rust's) \d is every Unicode digit.
    significant = "|".join(
        rf"0{{0,{10 - n}}}[1-9]" + (rf"[0-9]{{{n - 1}}}" if n > 1 else "") for n in range(1, 10)
    )
    return (
        rf"^(?:(?:{significant})(?:\.[0-9]{{1,2}})?"
        r"|0{1,10}\.(?:[1-9][0-9]?|0[1-9])"
        r"|1000000000(?:\.0{1,2})?)$"
    )


# What the OpenAPI document gives for a price string: exactly the strings parse_price accepts.
PRICE_STRING_PATTERN = _price_string_pattern()
# ASCII digits only, as `\d` means in the OpenAPI (ECMA-262) pattern: not "１０" or "١٠".
_PRICE_RE = re.compile(PRICE_PATTERN, re.ASCII)
# A price filter bound: a decimal >= 0, with a point or a comma.
_BOUND = r"[0-9]{1,13}(?:[.,][0-9]{1,8})?"
_BOUND_RE = re.compile(_BOUND)
# What the OpenAPI document gives for the parameter: a bound, or empty (the contract: absent).
BOUND_OR_EMPTY_PATTERN = rf"^(?:{_BOUND})?$"
_CENT = Decimal("0.01")


def plain(value: Decimal) -> Decimal:
    """`value` without trailing zeros and never in exponent form (2599.00 -> 2599)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal


def parse_price(value: object) -> Decimal:
    """A price from a JSON number or a decimal string; raises ValueError saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError('must be a number or a string such as "2599.50"')
    if isinstance(value, str):
        if not _PRICE_RE.fullmatch(value):
            raise ValueError('must be digits with at most 2 decimals, such as "2599.50"')
        price = Decimal(value)
    else:
        price = Decimal(value)
    if not price.is_finite():
        raise ValueError("must be a finite number")
    if not 0 < price <= MAX_PRICE:
        raise ValueError("must be greater than 0 and at most 1000000000")
    if price != price.quantize(_CENT):
        raise ValueError("must have at most 2 decimals")
    return plain(price.quantize(_CENT))


def parse_bound(value: str) -> Decimal:
    """A price filter bound from a query string: a decimal >= 0 (a comma is a decimal point)."""
    if not _BOUND_RE.fullmatch(value):
        raise ValueError("must be a number of at least 0, such as 1500 or 99.90")
    try:
        return Decimal(value.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the pattern rules this out
        raise ValueError("must be a number") from exc
