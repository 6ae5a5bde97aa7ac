"""The schema, one module per part of the shop; constraints live in the schema too.

Every model is imported here, so `db.metadata` (and with it the migrations) knows them all.
"""

from .accounts import Customer, PasswordReset, SignIn
from .carts import Cart, CartItem
from .catalog import CatalogVersion, Category, Product, SearchMatches, SearchTerm
from .idempotency import IdempotencyKey
from .mail import OutboxMessage
from .orders import Order, OrderLine

__all__ = [
    "Cart",
    "CartItem",
    "CatalogVersion",
    "Category",
    "Customer",
    "IdempotencyKey",
    "Order",
    "OrderLine",
    "OutboxMessage",
    "PasswordReset",
    "Product",
    "SearchMatches",
    "SearchTerm",
    "SignIn",
]
