"""Checkout and order requests: validation for the API and the checkout page, and their OpenAPI.

Nullable fields are single validators that accept None, never `X | None` unions: a union makes
pydantic report one error per member, located under the member's name, which a client must
never see.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator, WithJsonSchema

from .models.orders import DELIVERY_METHODS, PAYMENT_METHODS, STATUSES
from .schemas import _text

MAX_EMAIL = 254
PHONE_CHARACTERS = re.compile(r"[0-9 +()\-]{5,32}", re.ASCII)
MIN_PHONE_DIGITS = 5
# A total may be up to 100 lines x 99 units x 1 000 000 000: 13 digits before the point.
AMOUNT_PATTERN = r"^\d{1,13}(\.\d{1,2})?$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN, re.ASCII)
_CENT = Decimal("0.01")


def _email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"must be a valid email address: {exc}") from None
    return value


def _phone(value: str) -> str:
    if not PHONE_CHARACTERS.fullmatch(value):
        raise ValueError("must be 5 to 32 characters: digits, spaces, + ( ) -")
    if sum(ch.isdigit() for ch in value) < MIN_PHONE_DIGITS:
        raise ValueError(f"must have at least {MIN_PHONE_DIGITS} digits")
    return value


def parse_amount(value: object) -> Decimal:
    """A money amount of at least 0 from a JSON number or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError('must be a number or a string such as "2599.50"')
    if isinstance(value, str) and not _AMOUNT_RE.fullmatch(value):
        raise ValueError('must be digits with at most 2 decimals, such as "2599.50"')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a finite amount of at least 0")
    if amount != amount.quantize(_CENT) or amount >= Decimal(10) ** 13:
        raise ValueError("must have at most 13 digits before the point and 2 after it")
    return amount


Email = Annotated[
    str,
    _text(3, MAX_EMAIL),
    AfterValidator(_email),
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "maxLength": MAX_EMAIL,
            "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            "description": "A valid email address, stored as typed, compared case-insensitively.",
        }
    ),
]
Phone = Annotated[str, _text(5, 32), AfterValidator(_phone)]
Amount = Annotated[
    Decimal,
    PlainValidator(parse_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 9_999_999_999_999.99},
                {"type": "string", "pattern": AMOUNT_PATTERN},
            ],
            "description": "At least 0, at most 2 decimals.",
        }
    ),
]


def _address(value: object) -> str | None:
    """An address: None, or text of 5 to 500 characters (trimmed)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be text or null")
    value = value.strip()
    if not 5 <= len(value) <= 500:
        raise ValueError("must be 5 to 500 characters")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Address = Annotated[
    str | None,
    PlainValidator(_address),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "minLength": 5, "maxLength": 500}, {"type": "null"}],
            "description": "Where the courier brings the order (5–500 characters); "
            "required for courier, ignored for pickup.",
        }
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeliveryIn(_Body):
    """How the order reaches the shopper."""

    method: Literal[DELIVERY_METHODS]  # type: ignore[valid-type]
    address: Any = None


class CheckoutIn(_Body):
    """Place an order from the session's cart."""

    email: Email
    name: _text(1, 200)  # type: ignore[valid-type]
    phone: Phone
    delivery: DeliveryIn
    payment: Literal[PAYMENT_METHODS]  # type: ignore[valid-type]
    comment: _text(0, 1000) = ""  # type: ignore[valid-type]
    expected_total: Amount


class StatusIn(_Body):
    """The admin moves an order along its pipeline."""

    status: Literal[STATUSES]  # type: ignore[valid-type]


def delivery_address(delivery: DeliveryIn) -> tuple[str | None, list[dict[str, Any]]]:
    """The validated address for `delivery`, and the issues with it (located under body)."""
    if delivery.method != "courier":
        return None, []
    try:
        address = _address(delivery.address)
    except ValueError as exc:
        return None, [{"loc": ["body", "delivery", "address"], "msg": str(exc)}]
    if address is None:
        return None, [
            {"loc": ["body", "delivery", "address"], "msg": "is required for courier delivery"}
        ]
    return address, []
