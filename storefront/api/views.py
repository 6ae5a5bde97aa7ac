"""How domain results become JSON: one place for the shapes of Product, Page and Cart."""

from __future__ import annotations

from typing import Any

from ..cart import CartView
from ..catalog import CategoryView, ProductPage, ProductView
from ..money import plain


def product_json(product: ProductView) -> dict[str, Any]:
    """The contract's `Product`."""
    return {
        "id": product.id,
        "name": product.name,
        "description": product.description,
        "price": plain(product.price),
        "image": product.image,
        "category": product.category,
    }


def page_json(page: ProductPage) -> dict[str, Any]:
    """The product list response."""
    return {
        "items": [product_json(item) for item in page.items],
        "total": page.total,
        "total_exact": page.total_exact,
        "limit": page.limit,
        "offset": page.offset,
    }


def category_json(category: CategoryView) -> dict[str, Any]:
    """One entry of the categories list."""
    return {
        "name": category.name,
        "slug": category.slug,
        "product_count": category.product_count,
    }


def cart_json(view: CartView, currency: str) -> dict[str, Any]:
    """The contract's `Cart`."""
    return {
        "items": [
            {
                "id": line.id,
                "product": product_json(line.product),
                "quantity": line.quantity,
                "line_total": plain(line.line_total),
            }
            for line in view.lines
        ],
        "total_quantity": view.total_quantity,
        "total_price": plain(view.total_price),
        "currency": currency,
    }
