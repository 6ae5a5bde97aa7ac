"""Where a page form goes back to: the page it was posted from, and never another site."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request


def next_url(default: str) -> str:
    """The form's (or the query's) `next` when it is a path on this site, else `default`."""
    target = (request.values.get("next") or "").strip()
    parts = urlsplit(target)
    local = target.startswith("/") and not target.startswith(("//", "/\\"))
    if local and not parts.scheme and not parts.netloc and target.isprintable():
        return target
    return default


def this_page() -> str:
    """The `next` for a form on the page being rendered: its URL, or its path after a POST."""
    if request.method in {"GET", "HEAD"}:
        return request.full_path.removesuffix("?")
    return request.path
