"""The OpenAPI 3.1 document, assembled from the same pydantic schemas that validate requests."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from .. import filters, schemas
from ..config import SESSION_COOKIE_NAME
from ..money import BOUND_OR_EMPTY_PATTERN
from ..routing import MAX_URL_BYTES
from ..schemas import TEXT_PATTERN

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
ADMIN_SCHEME = "adminToken"
SESSION_SCHEME = "cartSession"
ADMIN = [{ADMIN_SCHEME: []}]

SECURITY_SCHEMES = {
    ADMIN_SCHEME: {"type": "http", "scheme": "bearer", "description": "STOREFRONT_ADMIN_TOKEN"},
    SESSION_SCHEME: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE_NAME,
        "description": "Flask's signed session cookie: it carries the cart token. The server "
        "sets it on the first change; without it (or with a forged one) a visitor gets a new, "
        "empty cart.",
    },
}

_PROBLEM_TEXT = {
    400: "Malformed JSON (an empty body declared as JSON included).",
    401: "Missing or wrong admin token.",
    403: "Forbidden origin, or admin writes disabled on this server.",
    404: "No such resource.",
    405: "Method not allowed.",
    413: "Body larger than allowed.",
    414: f"URL longer than {MAX_URL_BYTES} bytes (path and query string as sent). Send fewer or "
    "shorter filters. (Past the HTTP server's own request-line limit, a little higher, the "
    "server answers by itself, not with problem+json.)",
    415: "The body is not application/json.",
    422: "Invalid values; `errors` lists each with its location.",
    429: "Too many requests; see Retry-After.",
    503: "Database unavailable; see Retry-After.",
}


def session_security(*, required: bool = False) -> list[dict[str, list[str]]]:
    """The `security` of an operation that uses the session cookie.

    Optional by default, as for the cart: `{}` (no cookie at all) is one of the alternatives, since
    a new visitor simply gets an empty cart (schemathesis' `ignored_auth` then expects no 401).
    """
    return [{SESSION_SCHEME: []}] if required else [{}, {SESSION_SCHEME: []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


# Answers that say when to come back.
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _problem(code: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _PROBLEM_TEXT[code],
        "content": {PROBLEM: {"schema": _ref("Problem")}},
    }
    if code in {429, 503}:
        response["headers"] = RETRY_AFTER
    return response


def _problems(*codes: int) -> dict[str, Any]:
    return {str(code): _problem(code) for code in sorted({*codes, 405, 503})}


def _op(
    operation_id: str,
    summary: str,
    ok: tuple[int, str, dict[str, Any] | None],
    problems: tuple[int, ...] = (),
    *,
    links: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    admin: bool = False,
    session: bool = False,
    tag: str = "products",
    headers: dict[str, Any] | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """One operation; `admin` and `session` add their security and the answers they bring."""
    status, success_text, schema = ok
    success: dict[str, Any] = {"description": success_text}
    if schema is not None:
        success.update(_json(schema))
    if headers:
        success["headers"] = headers
    if links:
        success["links"] = links
    params = params or []
    if any(param["in"] == "query" for param in params):
        # A URL over MAX_URL_BYTES: only filters can make one that long.
        problems = (*problems, 414)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "parameters": params,
        "responses": {str(status): success, **_problems(*problems)},
    }
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    if session:
        operation["security"] = session_security()
    if admin:
        operation["security"] = ADMIN
        # Admin writes are rate limited (RATE_LIMITS), like cart writes.
        operation["responses"].update(_problems(401, 403, 429, *problems))
    return operation


def _query(
    name: str, schema: dict[str, Any], description: str, *, allow_empty: bool = False, **extra: Any
) -> dict[str, Any]:
    """An optional query parameter; `allow_empty`: `name=` is fine though `schema` refuses ""."""
    parameter = {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
        **extra,
    }
    if allow_empty:
        parameter["allowEmptyValue"] = True
    return parameter


def _list_params(count_cap: int) -> list[dict[str, Any]]:
    """The catalog's filters, as `filters.parse_filters` reads them.

    An empty value (`min_price=`, as a form sends it) counts as absent, so every schema admits
    "": the string ones in themselves (`allowEmptyValue` would hide their `type` behind an
    `anyOf` from tools such as schemathesis), the integers through `allowEmptyValue`.
    """
    text = {"type": "string", "pattern": TEXT_PATTERN}
    return [
        _query(
            "category",
            {"type": "array", "items": {**text, "maxLength": filters.MAX_CATEGORY}},
            "Category name (case-insensitive) or slug; repeat for any of several. Unknown: "
            "nothing matches.",
            style="form",
            explode=True,
        ),
        _query(
            "min_price",
            {"type": "string", "pattern": BOUND_OR_EMPTY_PATTERN},
            "Lowest price, inclusive; a decimal comma is fine.",
        ),
        _query(
            "max_price",
            {"type": "string", "pattern": BOUND_OR_EMPTY_PATTERN},
            "Highest price, inclusive; below `min_price` it is a 422 (a rule between two "
            "parameters, which JSON Schema cannot state).",
        ),
        _query(
            "search",
            {**text, "maxLength": filters.MAX_SEARCH},
            "Every word must match name or description; only spaces: no search.",
        ),
        _query(
            "sort",
            {"type": "string", "enum": ["", *filters.SORTS]},
            "Default (or empty): relevance with search, else name.",
        ),
        _query(
            "limit",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": filters.MAX_LIMIT,
                "default": filters.DEFAULT_LIMIT,
            },
            "Page size.",
            allow_empty=True,
        ),
        _query(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": count_cap, "default": 0},
            "Items to skip, at most COUNT_CAP.",
            allow_empty=True,
        ),
    ]


def _id_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID},
    }


def _link(operation_id: str, description: str, **values: Any) -> dict[str, Any]:
    """An OpenAPI link: `values` fill the target's path parameters, `body` its request body."""
    link: dict[str, Any] = {"operationId": operation_id, "description": description}
    body = values.pop("body", None)
    if values:
        link["parameters"] = values
    if body is not None:
        link["requestBody"] = body
    return link


def _product_links(product_id: str) -> dict[str, Any]:
    """What a client can do next with the product whose id is at `product_id` (an expression)."""
    return {
        "GetProduct": _link("getProduct", "Read this product.", product_id=product_id),
        "UpdateProduct": _link("updateProduct", "Change this product.", product_id=product_id),
        "DeleteProduct": _link("deleteProduct", "Delete this product.", product_id=product_id),
        "AddToCart": _link(
            "addToCart", "Put this product in the cart.", body={"product_id": product_id}
        ),
    }


def _cart_links() -> dict[str, Any]:
    """What a client can do next with the cart it got back (the first line, when there is one)."""
    first_line = "$response.body#/items/0/id"
    return {
        "SetQuantity": _link(
            "setCartItemQuantity", "Change the first line's quantity.", item_id=first_line
        ),
        "RemoveLine": _link("removeCartItem", "Remove the first line.", item_id=first_line),
        "GetCart": _link("getCart", "Read the cart again."),
        "ClearCart": _link("clearCart", "Empty the cart."),
    }


def _paths(count_cap: int) -> dict[str, Any]:
    product = [_id_param("product_id")]
    item = [_id_param("item_id")]
    cart = _ref("Cart")
    return {
        "/api/products/": {
            "get": _op(
                "listProducts",
                "List products",
                (200, "A page of products.", _ref("ProductPage")),
                (422,),
                params=_list_params(count_cap),
                links=_product_links("$response.body#/items/0/id"),
                description="Every parameter may be sent empty (`min_price=`, as an HTML form "
                "does): it then counts as absent. Unknown parameters are ignored.",
            ),
            "post": _op(
                "createProduct",
                "Create a product",
                (201, "Created.", _ref("Product")),
                (400, 413, 415, 422),
                body=_ref("ProductIn"),
                admin=True,
                headers={"Location": {"schema": {"type": "string"}}},
                links=_product_links("$response.body#/id"),
            ),
        },
        "/api/products/bulk/": {
            "post": _op(
                "createProducts",
                "Create up to 1000 products, all or none",
                (201, "Created, in order.", {"type": "array", "items": _ref("Product")}),
                (400, 413, 415, 422),
                admin=True,
                body={
                    "type": "array",
                    "items": _ref("ProductIn"),
                    "minItems": 1,
                    "maxItems": schemas.MAX_BULK_ITEMS,
                },
                links=_product_links("$response.body#/0/id"),
            ),
        },
        "/api/products/{product_id}/": {
            "get": _op(
                "getProduct",
                "One product",
                (200, "The product.", _ref("Product")),
                (404,),
                params=product,
                links=_product_links("$response.body#/id"),
            ),
            "patch": _op(
                "updateProduct",
                "Change a product",
                (200, "The product.", _ref("Product")),
                (400, 404, 413, 415, 422),
                body=_ref("ProductPatch"),
                params=product,
                admin=True,
                links=_product_links("$response.body#/id"),
            ),
            "delete": _op(
                "deleteProduct",
                "Delete a product (it leaves every cart)",
                (204, "Deleted.", None),
                (404, 415),
                params=product,
                admin=True,
            ),
        },
        "/api/categories/": {
            "get": _op(
                "listCategories",
                "Categories with products",
                (200, "Sorted by name.", {"type": "array", "items": _ref("Category")}),
                tag="categories",
            ),
        },
        "/api/cart/": {
            "get": _op(
                "getCart", "The session's cart", (200, "The cart.", cart), tag="cart", session=True
            ),
            "post": _op(
                "addToCart",
                "Add a product",
                (201, "The cart.", cart),
                (400, 403, 404, 413, 415, 422, 429),
                body=_ref("CartAdd"),
                tag="cart",
                session=True,
                links=_cart_links(),
                description="The same product again grows its line. The line's quantity may not "
                "pass 99 (MAX_LINE_QUANTITY), nor the cart 100 lines (MAX_CART_LINES): 422, and "
                "the cart is unchanged. An unknown product: 404.",
            ),
            "delete": _op(
                "clearCart",
                "Empty the cart",
                (200, "The empty cart.", cart),
                (403, 415, 429),
                tag="cart",
                session=True,
            ),
        },
        "/api/cart/{item_id}/": {
            "put": _op(
                "setCartItemQuantity",
                "Set a line's quantity (0 removes it)",
                (200, "The cart.", cart),
                (400, 403, 404, 413, 415, 422, 429),
                body=_ref("CartUpdate"),
                params=item,
                tag="cart",
                session=True,
                links=_cart_links(),
                description="A line of another session (or none) is a 404. The quantity may not "
                "pass MAX_LINE_QUANTITY (422).",
            ),
            "delete": _op(
                "removeCartItem",
                "Remove a line",
                (200, "The cart.", cart),
                (403, 404, 415, 429),
                params=item,
                tag="cart",
                session=True,
                links=_cart_links(),
            ),
        },
    }


@cache
def openapi_document(count_cap: int = filters.DEFAULT_COUNT_CAP) -> dict[str, Any]:
    """The whole document for a server with this COUNT_CAP (built once per process)."""
    _, defs = models_json_schema(
        [
            (schemas.ProductIn, "validation"),
            (schemas.ProductPatch, "validation"),
            (schemas.CartAdd, "validation"),
            (schemas.CartUpdate, "validation"),
            (schemas.ProductPage, "serialization"),
            (schemas.Category, "serialization"),
            (schemas.Cart, "serialization"),
            (schemas.Problem, "serialization"),
        ],
        ref_template=REF,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Storefront API",
            "version": "1.0.0",
            "description": "Catalog and session cart. Prices are exact decimals written as "
            "JSON numbers. Errors are application/problem+json (RFC 9457).",
        },
        "paths": _paths(count_cap),
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
