"""Request and response schemas: validation for the API, pages and CLI, and the OpenAPI source."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
)

from .money import PRICE_STRING_PATTERN, parse_price

MAX_ID = 2_147_483_647
MAX_BULK_ITEMS = 1000


# What trimming removes: Unicode's White_Space characters, spelled out so that the OpenAPI
# document's patterns (ECMA-262, where `\s` is another set) mean exactly what the code does.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WIDE_SPACES = r"\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SPACE = rf"\t\n\x0b\x0c\r {_WIDE_SPACES}"
# Text without NUL; the second with something besides whitespace.
TEXT_PATTERN = r"^[^\x00]*$"
NON_BLANK_TEXT_PATTERN = rf"^[{SPACE}]*[^\x00{SPACE}][^\x00]*$"
# An image: nothing, a path from / (not "//host" or "/\\host": browsers read both as another
# site), or an absolute http(s) URL with a host; no control character or whitespace anywhere.
_URL_CHAR = rf"[^\x00-\x20{_WIDE_SPACES}]"
IMAGE_PATTERN = (
    rf"^(?:/(?:[^/\\\x00-\x20{_WIDE_SPACES}]{_URL_CHAR}*)?"
    rf"|[hH][tT][tT][pP][sS]?://[^/?#\x00-\x20{_WIDE_SPACES}]+(?:[/?#]{_URL_CHAR}*)?)?$"
)
IMAGE_MAX_LENGTH = 2000
_IMAGE_RE = re.compile(IMAGE_PATTERN)


def _refuse_lone_surrogates(value: str) -> None:
    """Raise unless `value` can be stored as UTF-8 (a JSON "\\ud800" escape cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc


def _clean_text(min_length: int) -> Any:
    """A validator: no NUL or lone surrogate; trimmed; at least `min_length` characters left."""

    def clean(value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        _refuse_lone_surrogates(value)
        value = value.strip(WHITESPACE)
        if len(value) < min_length:
            raise ValueError("must not be blank")
        return value

    return clean


def _image(value: object) -> str | None:
    """An image URL or path; None for null or "" (no image)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string or null")
    if len(value) > IMAGE_MAX_LENGTH:
        raise ValueError(f"must be at most {IMAGE_MAX_LENGTH} characters")
    _refuse_lone_surrogates(value)
    if not _IMAGE_RE.fullmatch(value):
        raise ValueError("must be an absolute http(s) URL or a path starting with / (no spaces)")
    return value


def _text(min_length: int, max_length: int) -> Any:
    """Text of `min_length` to `max_length` characters as sent, then trimmed; never NUL."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length, "pattern": TEXT_PATTERN}
    if min_length:
        schema.update(minLength=min_length, pattern=NON_BLANK_TEXT_PATTERN)
    return Annotated[
        str,
        Field(strict=True, min_length=min_length, max_length=max_length),
        AfterValidator(_clean_text(min_length)),
        WithJsonSchema(schema),
    ]


Name = _text(1, 200)
Description = _text(0, 5000)
CategoryName = _text(1, 100)
# One validator that takes None too: a `str | None` union would report each of its members.
Image = Annotated[
    str | None,
    PlainValidator(_image),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": IMAGE_MAX_LENGTH, "pattern": IMAGE_PATTERN},
                {"type": "null"},
            ],
            "description": 'An absolute http(s) URL or a path from /; null or "" for none.',
        }
    ),
]
PriceIn = Annotated[
    Decimal,
    PlainValidator(parse_price),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 1_000_000_000,
                    "multipleOf": 0.01,
                },
                {"type": "string", "pattern": PRICE_STRING_PATTERN},
            ],
            "description": "Greater than 0, at most 1 000 000 000, at most 2 decimals.",
        }
    ),
]
# Beyond any id or quantity; keeps int() away from values such as 1e999999999.
_WHOLE_NUMBER_LIMIT = Decimal(2**63)


def _whole_number(value: object) -> object:
    """A JSON number without a fractional part, as the int it is: `2.0` and `2e0` are 2.

    JSON has one number type, and the OpenAPI document's `"type": "integer"` (JSON Schema) is
    every number whose fractional part is zero: `2.0` is a valid integer there, so refusing it
    broke the document (found by schemathesis). Strings and booleans stay refused (strict), and
    so do fractions, infinities and huge exponents.
    """
    if (
        isinstance(value, Decimal | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= _WHOLE_NUMBER_LIMIT
        and value == int(value)
    ):
        return int(value)
    return value


def _integer(low: int, high: int) -> Any:
    """A whole number from `low` to `high`: a JSON integer, or a number such as 2.0 (never "2")."""
    return Annotated[int, Field(strict=True, ge=low, le=high), BeforeValidator(_whole_number)]


Id = _integer(1, MAX_ID)
MAX_STOCK = 1_000_000


def _stock(value: object) -> int | None:
    """Units on hand: a whole number from 0 to MAX_STOCK, or None (stock not tracked)."""
    if value is None:
        return None
    value = _whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number or null")
    if not 0 <= value <= MAX_STOCK:
        raise ValueError(f"must be from 0 to {MAX_STOCK}, or null when stock is not tracked")
    return value


# One validator that takes None too (see Image).
Stock = Annotated[
    int | None,
    PlainValidator(_stock),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_STOCK}, {"type": "null"}],
            "description": "Units on hand; null: stock not tracked (always available).",
        }
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductIn(_Body):
    """A new product."""

    name: Name
    description: Description = ""
    price: PriceIn
    category: CategoryName
    image: Image = None
    stock: Stock = None


def _drop_default(schema: dict[str, Any]) -> None:
    """Leave a field's default out of its JSON schema."""
    schema.pop("default", None)


def _not_sent() -> Any:
    """A PATCH field's default: None for "not sent", never validated and left out of the schema.

    The field keeps its plain type (no `| None`): a union would make pydantic report an error
    for each of its members, with the members' names in `loc`.
    """
    return Field(default=None, json_schema_extra=_drop_default)


class ProductPatch(_Body):
    """A partial update: only the fields sent change."""

    name: Name = _not_sent()
    description: Description = _not_sent()
    price: PriceIn = _not_sent()
    category: CategoryName = _not_sent()
    image: Image = _not_sent()
    stock: Stock = _not_sent()

    @field_validator("name", "description", "price", "category", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null (leave the field out to keep it)")
        return value


class CartAdd(_Body):
    """Add `quantity` of a product to the session's cart."""

    product_id: Id
    quantity: _integer(1, 99) = 1  # type: ignore[valid-type]


class CartUpdate(_Body):
    """Set a cart line's quantity; 0 removes the line."""

    quantity: _integer(0, 99)  # type: ignore[valid-type]


BulkIn = TypeAdapter(Annotated[list[ProductIn], Field(min_length=1, max_length=MAX_BULK_ITEMS)])


# Response schemas: used only to document the API.
class Product(BaseModel):
    """A product as the API shows it."""

    id: int
    name: str
    description: str
    price: Annotated[Decimal, WithJsonSchema({"type": "number"})]
    image: str | None
    category: str
    stock: int | None = Field(description="Units on hand; null when not tracked.")


class ProductPage(BaseModel):
    """One page of products."""

    items: list[Product]
    total: int = Field(description="Exact up to COUNT_CAP; past it COUNT_CAP, read 'at least'.")
    total_exact: bool
    limit: int
    offset: int


class Category(BaseModel):
    """A category with the number of its products."""

    name: str
    slug: str
    product_count: int


class CartItem(BaseModel):
    """One line of the cart."""

    id: int
    product: Product
    quantity: int
    line_total: Annotated[Decimal, WithJsonSchema({"type": "number"})]
    available: bool = Field(
        description="False when the product's tracked stock fell below the line's quantity."
    )


class Cart(BaseModel):
    """The session's cart."""

    items: list[CartItem]
    total_quantity: int
    total_price: Annotated[Decimal, WithJsonSchema({"type": "number"})]
    currency: str


class ValidationIssue(BaseModel):
    """One invalid value."""

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ValidationIssue] | None = None


SortOrder = Literal["price", "-price", "name", "-name", "newest", "relevance"]
