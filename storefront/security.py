"""Security headers on every response: CSP, nosniff, referrer policy, framing, HSTS over HTTPS.

They are added where every answer leaves the app, around its WSGI callable (`SecurityHeaders`,
with the request id of `logs`): pages, the API, static files, error pages and problem+json
alike, and an unexpected error's 500 too. A view that sets one of these headers itself keeps
its own. Prepared `(name, value)` pairs are added there: werkzeug's `Headers` checks every
value it is given and copies them all again on the way out (~10 µs more for these headers).

- Pages and static files: scripts and styles only from our own origin, so no inline `<script>`,
  no `on…=` handler, no `style=` attribute and no `<style>` runs (htmx is configured through a
  `<meta name="htmx-config">`, with its indicator styles off and `style` left out of the
  attributes its settle step copies with `setAttribute`). Product images may be absolute
  http(s) URLs (the contract allows them), so `img-src` lets those through.
- `/api/docs` (Swagger UI) sets its own: the same, plus `img-src data:` for the icons its
  stylesheet embeds. Its set-up lives in `static/js/swagger-init.js`, so it needs no script
  hash; React sets its styles through the DOM (not blocked by CSP), so it needs no
  `'unsafe-inline'` style either.
- JSON under `/api`: nothing to load at all (`default-src 'none'`).
- HSTS only when the site is configured for HTTPS (`SESSION_COOKIE_SECURE`): sent over plain
  HTTP it is ignored by browsers, and promising HTTPS for a year on a site that lacks it would
  lock shoppers out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from .logs import REQUEST_ID_HEADER, request_id_of
from .routing import is_api_path

# Directives every policy ends with: no framing (clickjacking), no <base> or plugin tricks.
_LOCKDOWN = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http:; "
    f"font-src 'self'; connect-src 'self'; form-action 'self'; {_LOCKDOWN}"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    f"font-src 'self'; connect-src 'self'; form-action 'self'; {_LOCKDOWN}"
)
API_POLICY = f"default-src 'none'; form-action 'none'; {_LOCKDOWN}"

CSP = "Content-Security-Policy"
HSTS = ("Strict-Transport-Security", "max-age=31536000")

STATIC_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    # The URL (with its search words) never leaves the site; other sites see no referrer at all.
    ("Referrer-Policy", "same-origin"),
    # For browsers that predate frame-ancestors.
    ("X-Frame-Options", "DENY"),
    # A page opened from the shop cannot reach back into it through window.opener.
    ("Cross-Origin-Opener-Policy", "same-origin"),
)

Header = tuple[str, str]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _policy_headers(policy: str) -> tuple[Header, ...]:
    return ((CSP, policy), *STATIC_HEADERS)


_API_HEADERS = _policy_headers(API_POLICY)
_PAGE_HEADERS = _policy_headers(PAGE_POLICY)
_NAMES = frozenset(name.lower() for name, _ in (*_API_HEADERS, HSTS, (REQUEST_ID_HEADER, "")))


def with_security_headers(
    headers: list[Header], environ: dict[str, Any], https: bool
) -> list[Header]:
    """`headers` with the security headers and the request id they lack, for `environ`'s path."""
    ours = list(_API_HEADERS if is_api_path(environ.get("PATH_INFO", "")) else _PAGE_HEADERS)
    if https:
        ours.append(HSTS)
    ours.append((REQUEST_ID_HEADER, request_id_of(environ)))
    # Only names we add are compared: a view that set one keeps its own.
    present = _NAMES.intersection(name.lower() for name, _ in headers)
    if present:
        ours = [header for header in ours if header[0].lower() not in present]
    headers.extend(ours)
    return headers


class SecurityHeaders:
    """WSGI middleware: every answer of the app it wraps leaves with the security headers."""

    def __init__(self, app: Flask, wsgi_app: WsgiApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve the request; add the headers as the app starts its answer."""
        # Read per request: tests (and only tests) switch HTTPS on after the app is built.
        https = bool(self.app.config.get("SESSION_COOKIE_SECURE"))

        def start(status: str, headers: list[Header], exc_info: Any = None) -> Any:
            return start_response(status, with_security_headers(headers, environ, https), exc_info)

        return self.wsgi_app(environ, start)


def register_security(app: Flask) -> None:
    """Put the security headers and the request id on every response of `app`."""
    app.wsgi_app = SecurityHeaders(app, app.wsgi_app)  # type: ignore[method-assign]
