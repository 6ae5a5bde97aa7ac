"""The storefront pages: catalog, product and cart as Jinja + HTMX over the shared domain code."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__)

from . import cart, catalog, htmx, layout  # noqa: E402  (the modules attach their routes to bp)

bp.after_request(htmx.html_is_private)

__all__ = ["bp", "cart", "catalog", "htmx", "layout"]
