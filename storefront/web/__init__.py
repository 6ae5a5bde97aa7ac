"""The storefront pages: catalog, product and cart as Jinja + HTMX over the shared domain code."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__)

from ..template_gettext import install_template_gettext  # noqa: E402
from . import (  # noqa: E402  (the modules attach their routes to bp)
    account,
    cart,
    catalog,
    checkout,
    htmx,
    language,
    layout,
    orders,
)

bp.after_request(htmx.html_is_private)
# After Flask-Babel's init_app (create_app binds extensions before blueprints), which this replaces.
bp.record_once(lambda state: install_template_gettext(state.app))

__all__ = ["account", "bp", "cart", "catalog", "checkout", "htmx", "language", "layout", "orders"]
