"""The JSON API under /api: products, categories, cart, and its own documentation."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from ..errors import ApiError
from .body import has_body

bp = Blueprint("api", __name__, url_prefix="/api")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def allowed_origin(origin: str) -> bool:
    """Whether a browser page at `origin` may write through the API with the shopper's cookie."""
    own = f"{request.scheme}://{request.host}"
    return origin == own or origin in current_app.config["CORS_ORIGINS"]


@bp.before_request
def guard_writes() -> None:
    """Cross-site request forgery rules for state-changing requests (see the contract)."""
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin is not None and not allowed_origin(origin):
        raise ApiError(403, f"Requests from {origin} may not change anything here.")
    if has_body() and request.mimetype != "application/json":
        raise ApiError(415, "Send the request body as application/json.")


from . import account, cart, checkout, docs, orders, products  # noqa: E402  (they attach routes)

__all__ = ["account", "bp", "cart", "checkout", "docs", "orders", "products"]
