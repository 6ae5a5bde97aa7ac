"""URLs, for the API and the pages alike: the id converter and the longest URL the app reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Flask, request
from werkzeug.exceptions import NotFound, RequestURITooLarge
from werkzeug.routing import BaseConverter

from .schemas import MAX_ID

# The longest request target (path and query string, in bytes as sent) the app reads. It sits
# below the HTTP servers' own limits (gunicorn.conf.py's `limit_request_line`, nginx's
# `large_client_header_buffers`, with room for the method and the HTTP version), so any longer
# URL a server lets through is answered here, as problem+json under /api, and never by the
# server's own HTML page. tests/test_deploy_files.py keeps the three in step.
MAX_URL_BYTES = 8000


class IdConverter(BaseConverter):
    """A database id in a path: ASCII digits only, 1 to 2 147 483 647, else 404.

    Not `int(min=1, max=…)`: werkzeug treats a value refused by a converter as "no rule
    matched", so with one rule per method it answers 405 where the contract wants 404, and
    `int` also takes non-ASCII digits ("１"). Raising NotFound here is final for every method.
    """

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        """The id, or a 404 when no row could ever have it."""
        number = int(value) if len(value) <= 10 else 0
        if not 1 <= number <= MAX_ID:
            raise NotFound()
        return number

    def to_url(self, value: object) -> str:
        """The id as digits."""
        return str(int(value))  # type: ignore[call-overload]


def is_api_path(path: str) -> bool:
    """Whether `path` is under the JSON API (`/api` and below): problem+json, the API's policy."""
    return path == "/api" or path.startswith("/api/")


def request_target_length(environ: Mapping[str, Any]) -> int:
    """The bytes of the request target as the client sent it (path and query string)."""
    # gunicorn and werkzeug keep the request target as received; WSGI strings hold one byte
    # per character. Other servers: rebuild it, percent-encoded as a client would send it.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return len(raw)
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/;=,")
    query = environ.get("QUERY_STRING", "")
    return len(path) + (len(query) + 1 if query else 0)


def refuse_long_urls() -> None:
    """414 for a URL longer than MAX_URL_BYTES, before any view or limit runs."""
    if request_target_length(request.environ) > MAX_URL_BYTES:
        raise RequestURITooLarge(
            f"The URL is longer than {MAX_URL_BYTES} bytes; send fewer or shorter filters."
        )


def register_url_limit(app: Flask) -> None:
    """Answer URLs over MAX_URL_BYTES with 414 (problem+json under /api, a page elsewhere)."""
    app.before_request(refuse_long_urls)
