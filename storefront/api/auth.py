"""Admin writes: a bearer token compared in constant time."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import current_app, request

from ..errors import ApiError


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let the request through only with `Authorization: Bearer <STOREFRONT_ADMIN_TOKEN>`."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token = current_app.config["STOREFRONT_ADMIN_TOKEN"]
        if not token:
            raise ApiError(
                403,
                "Admin writes are disabled: start the server with STOREFRONT_ADMIN_TOKEN set "
                "and send it as 'Authorization: Bearer <token>'.",
            )
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise ApiError(
                401,
                "A valid admin token is required: 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": 'Bearer realm="storefront-admin"'},
            )
        return view(*args, **kwargs)

    return guarded
