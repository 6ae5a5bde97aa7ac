"""Admin writes: a bearer token compared in constant time."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from ..errors import ApiError


def is_admin_request() -> bool:
    """Whether the request carries `Authorization: Bearer <STOREFRONT_ADMIN_TOKEN>`.

    Decided once per request: the rate limiter asks before the view's guard does, and the
    token is compared (in constant time) only once.
    """
    if "is_admin" not in g:
        token = current_app.config["STOREFRONT_ADMIN_TOKEN"]
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        g.is_admin = bool(
            token
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), token.encode())
        )
    return bool(g.is_admin)


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let the request through only with `Authorization: Bearer <STOREFRONT_ADMIN_TOKEN>`."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_app.config["STOREFRONT_ADMIN_TOKEN"]:
            raise ApiError(
                403,
                "Admin writes are disabled: start the server with STOREFRONT_ADMIN_TOKEN set "
                "and send it as 'Authorization: Bearer <token>'.",
            )
        if not is_admin_request():
            raise ApiError(
                401,
                "A valid admin token is required: 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": 'Bearer realm="storefront-admin"'},
            )
        return view(*args, **kwargs)

    return guarded
