"""How domain results become JSON: one place for the shapes of Product, Page and Cart."""

from __future__ import annotations

from typing import Any

from ..cart import CartView
from ..catalog import CategoryView, ProductPage, ProductView
from ..checkout import Quote
from ..money import plain
from ..orders import DELIVERY_TITLES, PAYMENT_TITLES, OrderPage, OrderView


def product_json(product: ProductView) -> dict[str, Any]:
    """The contract's `Product`."""
    return {
        "id": product.id,
        "name": product.name,
        "description": product.description,
        "price": plain(product.price),
        "image": product.image,
        "category": product.category,
        "stock": product.stock,
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
                "available": line.available,
            }
            for line in view.lines
        ],
        "total_quantity": view.total_quantity,
        "total_price": plain(view.total_price),
        "currency": currency,
    }


def quote_json(quote: Quote, currency: str) -> dict[str, Any]:
    """What a frontend needs to show the checkout: the cart, delivery and payment methods."""
    return {
        "cart": cart_json(quote.cart, currency),
        "delivery": [
            {"method": method, "title": str(DELIVERY_TITLES[method]), "fee": plain(fee)}
            for method, fee in quote.fees.items()
        ],
        "payment": [
            {"method": method, "title": str(title)} for method, title in PAYMENT_TITLES.items()
        ],
    }


def order_json(order: OrderView) -> dict[str, Any]:
    """The contract's `Order`."""
    return {
        "number": order.number,
        "status": order.status,
        "created_at": order.created_at.isoformat(timespec="seconds"),
        "email": order.email,
        "name": order.name,
        "phone": order.phone,
        "delivery": {
            "method": order.delivery_method,
            "address": order.address,
            "fee": plain(order.delivery_fee),
        },
        "payment": {"method": order.payment_method},
        "comment": order.comment,
        "items": [
            {
                "product_id": line.product_id,
                "name": line.name,
                "unit_price": plain(line.unit_price),
                "quantity": line.quantity,
                "line_total": plain(line.line_total),
            }
            for line in order.items
        ],
        "subtotal": plain(order.subtotal),
        "total": plain(order.total),
        "currency": order.currency,
    }


def order_page_json(page: OrderPage) -> dict[str, Any]:
    """A page of orders."""
    return {
        "items": [order_json(order) for order in page.items],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
    }
