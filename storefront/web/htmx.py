"""htmx: which answer a request wants, and the caching headers every HTML answer needs."""

from __future__ import annotations

from flask import Response, request


def is_htmx() -> bool:
    """An htmx request that swaps part of a page (not a boosted link or a history restore)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def is_htmx_for(target: str) -> bool:
    """An htmx request aimed at the element with id `target`: it gets that fragment alone."""
    return is_htmx() and request.headers.get("HX-Target") == target


def html_is_private(response: Response) -> Response:
    """Pages carry a CSRF token and the cart count: no shared cache may keep them.

    The same URL answers a full page or a fragment by the HX-Request header, so caches must
    key on it, and on `Accept-Language`, which picks a first visit's language (a chosen one
    is in the session cookie). `no-cache` makes a browser ask again instead of showing a stale
    cart count.
    """
    if response.mimetype == "text/html":
        response.vary.add("HX-Request")
        response.vary.add("Accept-Language")
        response.headers.setdefault("Cache-Control", "private, no-cache")
    return response
