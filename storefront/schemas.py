"""Request and response schemas: validation for the API, pages and CLI, and the OpenAPI source."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from .money import PRICE_PATTERN, parse_price

MAX_ID = 2_147_483_647
MAX_BULK_ITEMS = 1000


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


def _image(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("must be a URL without spaces")
    # "//host" and "/\host" are other sites: browsers read a backslash there as a slash.
    if value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL or a path starting with /")
    return value


def _text(min_length: int, max_length: int) -> Any:
    return Annotated[
        str,
        StringConstraints(
            strict=True, strip_whitespace=True, min_length=min_length, max_length=max_length
        ),
        AfterValidator(_clean_text),
    ]


Name = _text(1, 200)
Description = _text(0, 5000)
CategoryName = _text(1, 100)
Image = Annotated[
    str | None,
    Field(max_length=2000, strict=True),
    AfterValidator(_image),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "maxLength": 2000}, {"type": "null"}],
            "description": "An absolute http(s) URL or a path starting with /.",
        }
    ),
]
PriceIn = Annotated[
    Decimal,
    PlainValidator(parse_price),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000_000},
                {"type": "string", "pattern": PRICE_PATTERN},
            ],
            "description": "Greater than 0, at most 1 000 000 000, at most 2 decimals.",
        }
    ),
]
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductIn(_Body):
    """A new product."""

    name: Name
    description: Description = ""
    price: PriceIn
    category: CategoryName
    image: Image = None


def _drop_default(schema: dict[str, Any]) -> None:
    """Leave a field's default out of its JSON schema."""
    schema.pop("default", None)


def _not_sent() -> Any:
    """A PATCH field's default: None for "not sent", left out of the schema, which refuses null."""
    return Field(default=None, json_schema_extra=_drop_default)


class ProductPatch(_Body):
    """A partial update: only the fields sent change."""

    name: Name | SkipJsonSchema[None] = _not_sent()
    description: Description | SkipJsonSchema[None] = _not_sent()
    price: PriceIn | SkipJsonSchema[None] = _not_sent()
    category: CategoryName | SkipJsonSchema[None] = _not_sent()
    image: Image = None

    @field_validator("name", "description", "price", "category", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null (leave the field out to keep it)")
        return value


class CartAdd(_Body):
    """Add `quantity` of a product to the session's cart."""

    product_id: Id
    quantity: Annotated[int, Field(strict=True, ge=1, le=99)] = 1


class CartUpdate(_Body):
    """Set a cart line's quantity; 0 removes the line."""

    quantity: Annotated[int, Field(strict=True, ge=0, le=99)]


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
