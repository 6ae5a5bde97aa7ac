"""Helpers for the page tests: CSRF tokens as a browser gets them, and htmx request headers."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/cart") -> str:
    """The CSRF token a page gives this client's session (as its forms carry it)."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_FIELD.search(html) or re.search(r'"X-CSRFToken": ?"([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def htmx(target: str, **extra: str) -> dict[str, str]:
    """The headers htmx sends for a request that swaps the element with id `target`."""
    return {
        "HX-Request": "true",
        "HX-Target": target,
        "HX-Current-URL": "http://localhost/",
        **extra,
    }


def cart_count(html: str) -> int:
    """The header's cart count in a page or fragment."""
    match = re.search(
        r'id="cart-count"[^>]*>(?:<span class="visually-hidden">[^<]*</span>)?(\d+)<', html
    )
    assert match, "no cart count in the answer"
    return int(match.group(1))
