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
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)

from .models.orders import DELIVERY_METHODS, PAYMENT_METHODS, STATUSES
from .schemas import SPACE, WHITESPACE, Cart, ValidationIssue, _text

MAX_EMAIL = 254
# Digits, spaces, + ( ) -, and at least 5 digits; 5 to 32 characters as sent.
PHONE_PATTERN = r"^(?:[ +()\-]*[0-9]){5}[0-9 +()\-]*$"
_PHONE_RE = re.compile(PHONE_PATTERN)
# A total may be up to 100 lines x 99 units x 1 000 000 000: 13 digits before the point.
AMOUNT_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)
_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal("9999999999999.99")


def _email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"must be a valid email address: {exc}") from None
    return value


def _phone(value: str) -> str:
    if not 5 <= len(value) <= 32 or not _PHONE_RE.fullmatch(value):
        raise ValueError(
            "must be 5 to 32 characters of digits, spaces, + ( ) -, with at least 5 digits"
        )
    return value.strip(" ")


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
    if not amount.is_finite() or not 0 <= amount <= _MAX_AMOUNT:
        raise ValueError("must be an amount from 0 to 9999999999999.99")
    if amount != amount.quantize(_CENT):
        raise ValueError("must have at most 2 decimals")
    return amount


# Stored as typed (not trimmed): the library refuses spaces anyway.
Email = Annotated[
    str,
    Field(strict=True, max_length=MAX_EMAIL),
    AfterValidator(_email),
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "maxLength": MAX_EMAIL,
            "description": "A valid email address, stored as typed, compared case-insensitively. "
            "Checked by the email-validator library, which is stricter than `format: email`: "
            "no special-use domain (RFC 6761: .test, .localhost, .invalid, .local, …), no "
            "quoted local part, no IP address for a domain (422 at this field).",
        }
    ),
]
PHONE_SCHEMA = {"type": "string", "minLength": 5, "maxLength": 32, "pattern": PHONE_PATTERN}
Phone = Annotated[str, Field(strict=True), AfterValidator(_phone), WithJsonSchema(PHONE_SCHEMA)]
Amount = Annotated[
    Decimal,
    PlainValidator(parse_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "minimum": 0,
                    "maximum": float(_MAX_AMOUNT),
                    "multipleOf": 0.01,
                },
                {"type": "string", "pattern": AMOUNT_PATTERN},
            ],
            "description": "At least 0, at most 2 decimals.",
        }
    ),
]
# An address: at most 500 characters as sent, at least 5 once trimmed (first and last
# characters not whitespace), never NUL.
ADDRESS_PATTERN = rf"^[{SPACE}]*[^\x00{SPACE}][^\x00]{{3,}}[^\x00{SPACE}][{SPACE}]*$"
_ADDRESS_RE = re.compile(ADDRESS_PATTERN)


def _address(value: object) -> str | None:
    """An address: None, or text of at most 500 characters with at least 5 once trimmed."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be text or null")
    if len(value) > 500 or not _ADDRESS_RE.fullmatch(value):
        raise ValueError("must be 5 to 500 characters (not counting spaces around), no NUL")
    return value.strip(WHITESPACE)


ADDRESS_SCHEMA = {"type": "string", "maxLength": 500, "pattern": ADDRESS_PATTERN}
Address = Annotated[str | None, PlainValidator(_address)]
# Courier needs an address; pickup takes one or null and ignores it (the order's is null).
DELIVERY_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "method": {"const": "pickup"},
                "address": {"anyOf": [ADDRESS_SCHEMA, {"type": "null"}]},
            },
            "required": ["method"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"method": {"const": "courier"}, "address": ADDRESS_SCHEMA},
            "required": ["method", "address"],
            "additionalProperties": False,
        },
    ],
    "description": "pickup (free), or courier (DELIVERY_FEE, free from FREE_DELIVERY_FROM) to "
    "`address`: 5–500 characters.",
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeliveryIn(_Body):
    """How the order reaches the shopper."""

    method: Literal[DELIVERY_METHODS]  # type: ignore[valid-type]
    address: Address = None


class CheckoutIn(_Body):
    """Place an order from the session's cart."""

    email: Email
    name: _text(1, 200)  # type: ignore[valid-type]
    phone: Phone
    delivery: Annotated[DeliveryIn, WithJsonSchema(DELIVERY_SCHEMA)]
    payment: Literal[PAYMENT_METHODS]  # type: ignore[valid-type]
    comment: _text(0, 1000) = ""  # type: ignore[valid-type]
    expected_total: Amount


class StatusIn(_Body):
    """The admin moves an order along its pipeline."""

    status: Literal[STATUSES]  # type: ignore[valid-type]


def delivery_address(delivery: DeliveryIn) -> tuple[str | None, list[dict[str, Any]]]:
    """The address the order keeps (None for pickup), and the issue when courier lacks one."""
    if delivery.method != "courier":
        return None, []
    if delivery.address is None:
        return None, [
            {"loc": ["body", "delivery", "address"], "msg": "is required for courier delivery"}
        ]
    return delivery.address, []


# Response schemas: used only to document the API.
Money = Annotated[Decimal, WithJsonSchema({"type": "number"})]
GENERIC_CODES = (
    "malformed_json",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "body_too_large",
    "uri_too_long",
    "unsupported_media_type",
    "validation_error",
    "rate_limited",
    "unavailable",
)
CHECKOUT_CODES = (
    "not_signed_in",
    "bad_credentials",
    "email_taken",
    "invalid_token",
    "cart_empty",
    "out_of_stock",
    "price_changed",
    "in_progress",
    "idempotency_key_reused",
    "invalid_transition",
)


class CodedProblem(BaseModel):
    """A problem (RFC 9457) with the machine-readable `code` of checkout, orders and account."""

    type: str
    title: str
    status: int
    detail: str
    code: Literal[GENERIC_CODES + CHECKOUT_CODES]  # type: ignore[valid-type]
    errors: list[ValidationIssue] | None = None


class ShortLineOut(BaseModel):
    """A cart line asking for more than the product's tracked stock."""

    item_id: int
    product_id: int
    requested: int
    available: int


class CheckoutConflict(BaseModel):
    """Why the cart cannot be ordered as it is: nothing was written."""

    type: str
    title: str
    status: int
    detail: str
    code: Literal["cart_empty", "out_of_stock", "price_changed", "in_progress"]
    items: list[ShortLineOut] | None = Field(None, description="out_of_stock: the short lines.")
    cart: Cart | None = Field(None, description="price_changed: the cart at today's prices.")
    total: Money | None = Field(None, description="price_changed: today's total with delivery.")


class DeliveryOption(BaseModel):
    """A delivery method and what it costs for this cart."""

    method: Literal[DELIVERY_METHODS]  # type: ignore[valid-type]
    title: str
    fee: Money


class PaymentOption(BaseModel):
    """A payment method."""

    method: Literal[PAYMENT_METHODS]  # type: ignore[valid-type]
    title: str


class CheckoutOut(BaseModel):
    """What a frontend needs to show the checkout of the session's cart."""

    cart: Cart
    delivery: list[DeliveryOption]
    payment: list[PaymentOption]


class OrderDelivery(BaseModel):
    """How the order reaches the shopper."""

    method: Literal[DELIVERY_METHODS]  # type: ignore[valid-type]
    address: str | None
    fee: Money


class OrderPayment(BaseModel):
    """How the order is paid."""

    method: Literal[PAYMENT_METHODS]  # type: ignore[valid-type]


class OrderLineOut(BaseModel):
    """A line with the product's name and price at the moment of ordering."""

    product_id: int | None = Field(description="null once the product was deleted.")
    name: str
    unit_price: Money
    quantity: int
    line_total: Money


class Order(BaseModel):
    """A placed order."""

    number: str = Field(pattern=r"^[A-Z0-9-]{4,32}$")
    status: Literal[STATUSES]  # type: ignore[valid-type]
    created_at: str = Field(description="RFC 3339.")
    email: str
    name: str
    phone: str
    delivery: OrderDelivery
    payment: OrderPayment
    comment: str
    items: list[OrderLineOut]
    subtotal: Money
    total: Money
    currency: str


class OrderPage(BaseModel):
    """Orders, newest first."""

    items: list[Order]
    total: int
    limit: int
    offset: int
