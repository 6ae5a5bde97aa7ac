"""The catalog and cart operations of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from ... import filters, schemas
from ...money import BOUND_OR_EMPTY_PATTERN
from ...schemas import TEXT_PATTERN
from .builders import id_param, link, operation, query_param, ref


def list_params(count_cap: int) -> list[dict[str, Any]]:
    """The catalog's filters, as `filters.parse_filters` reads them.

    An empty value (`min_price=`, as a form sends it) counts as absent, so every schema admits
    "": the string ones in themselves (`allowEmptyValue` would hide their `type` behind an
    `anyOf` from tools such as schemathesis), the integers through `allowEmptyValue`.
    """
    text = {"type": "string", "pattern": TEXT_PATTERN}
    return [
        query_param(
            "category",
            {"type": "array", "items": {**text, "maxLength": filters.MAX_CATEGORY}},
            "Category name (case-insensitive) or slug; repeat for any of several. Unknown: "
            "nothing matches.",
            style="form",
            explode=True,
        ),
        query_param(
            "min_price",
            {"type": "string", "pattern": BOUND_OR_EMPTY_PATTERN},
            "Lowest price, inclusive; a decimal comma is fine.",
        ),
        query_param(
            "max_price",
            {"type": "string", "pattern": BOUND_OR_EMPTY_PATTERN},
            "Highest price, inclusive; below `min_price` it is a 422 (a rule between two "
            "parameters, which JSON Schema cannot state).",
        ),
        query_param(
            "search",
            {**text, "maxLength": filters.MAX_SEARCH},
            "Every word must match name or description; only spaces: no search.",
        ),
        query_param(
            "sort",
            {"type": "string", "enum": ["", *filters.SORTS]},
            "Default (or empty): relevance with search, else name.",
        ),
        query_param(
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
        query_param(
            "in_stock",
            {"type": "string", "enum": ["", "true", "false"]},
            "`true`: only products in stock or whose stock is not tracked; `false` or empty: all.",
        ),
        query_param(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": count_cap, "default": 0},
            "Items to skip, at most COUNT_CAP.",
            allow_empty=True,
        ),
    ]


def product_links(product_id: str) -> dict[str, Any]:
    """What a client can do next with the product whose id is at `product_id` (an expression)."""
    return {
        "GetProduct": link("getProduct", "Read this product.", product_id=product_id),
        "UpdateProduct": link("updateProduct", "Change this product.", product_id=product_id),
        "DeleteProduct": link("deleteProduct", "Delete this product.", product_id=product_id),
        "AddToCart": link(
            "addToCart", "Put this product in the cart.", body={"product_id": product_id}
        ),
    }


def cart_links() -> dict[str, Any]:
    """What a client can do next with the cart it got back (the first line, when there is one)."""
    first_line = "$response.body#/items/0/id"
    return {
        "SetQuantity": link(
            "setCartItemQuantity", "Change the first line's quantity.", item_id=first_line
        ),
        "RemoveLine": link("removeCartItem", "Remove the first line.", item_id=first_line),
        "GetCart": link("getCart", "Read the cart again."),
        "ClearCart": link("clearCart", "Empty the cart."),
    }


def catalog_paths(count_cap: int) -> dict[str, Any]:
    product = [id_param("product_id")]
    item = [id_param("item_id")]
    cart = ref("Cart")
    return {
        "/api/products/": {
            "get": operation(
                "listProducts",
                "List products",
                (200, "A page of products.", ref("ProductPage")),
                (422,),
                params=list_params(count_cap),
                links=product_links("$response.body#/items/0/id"),
                description="Every parameter may be sent empty (`min_price=`, as an HTML form "
                "does): it then counts as absent. Unknown parameters are ignored.",
            ),
            "post": operation(
                "createProduct",
                "Create a product",
                (201, "Created.", ref("Product")),
                (400, 413, 415, 422),
                body=ref("ProductIn"),
                admin=True,
                headers={"Location": {"schema": {"type": "string"}}},
                links=product_links("$response.body#/id"),
            ),
        },
        "/api/products/bulk/": {
            "post": operation(
                "createProducts",
                "Create up to 1000 products, all or none",
                (201, "Created, in order.", {"type": "array", "items": ref("Product")}),
                (400, 413, 415, 422),
                admin=True,
                body={
                    "type": "array",
                    "items": ref("ProductIn"),
                    "minItems": 1,
                    "maxItems": schemas.MAX_BULK_ITEMS,
                },
                links=product_links("$response.body#/0/id"),
            ),
        },
        "/api/products/{product_id}/": {
            "get": operation(
                "getProduct",
                "One product",
                (200, "The product.", ref("Product")),
                (404,),
                params=product,
                links=product_links("$response.body#/id"),
            ),
            "patch": operation(
                "updateProduct",
                "Change a product",
                (200, "The product.", ref("Product")),
                (400, 404, 413, 415, 422),
                body=ref("ProductPatch"),
                params=product,
                admin=True,
                links=product_links("$response.body#/id"),
            ),
            "delete": operation(
                "deleteProduct",
                "Delete a product (it leaves every cart)",
                (204, "Deleted.", None),
                (404, 415),
                params=product,
                admin=True,
            ),
        },
        "/api/categories/": {
            "get": operation(
                "listCategories",
                "Categories with products",
                (200, "Sorted by name.", {"type": "array", "items": ref("Category")}),
                tag="categories",
            ),
        },
        "/api/cart/": {
            "get": operation(
                "getCart", "The session's cart", (200, "The cart.", cart), tag="cart", session=True
            ),
            "post": operation(
                "addToCart",
                "Add a product",
                (201, "The cart.", cart),
                (400, 403, 404, 413, 415, 422, 429),
                body=ref("CartAdd"),
                tag="cart",
                session=True,
                links=cart_links(),
                description="The same product again grows its line. The line's quantity may not "
                "pass 99 (MAX_LINE_QUANTITY), nor the cart 100 lines (MAX_CART_LINES): 422, and "
                "the cart is unchanged. An unknown product: 404.",
            ),
            "delete": operation(
                "clearCart",
                "Empty the cart",
                (200, "The empty cart.", cart),
                (403, 415, 429),
                tag="cart",
                session=True,
            ),
        },
        "/api/cart/{item_id}/": {
            "put": operation(
                "setCartItemQuantity",
                "Set a line's quantity (0 removes it)",
                (200, "The cart.", cart),
                (400, 403, 404, 413, 415, 422, 429),
                body=ref("CartUpdate"),
                params=item,
                tag="cart",
                session=True,
                links=cart_links(),
                description="A line of another session (or none) is a 404. The quantity may not "
                "pass MAX_LINE_QUANTITY (422).",
            ),
            "delete": operation(
                "removeCartItem",
                "Remove a line",
                (200, "The cart.", cart),
                (403, 404, 415, 429),
                params=item,
                tag="cart",
                session=True,
                links=cart_links(),
            ),
        },
    }
