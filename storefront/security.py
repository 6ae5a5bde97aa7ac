"""Security headers on every response: CSP, nosniff, referrer policy, framing, HSTS over HTTPS.

One `after_request` hook sets them on every answer the app gives (pages, the API, static files,
error pages and problem+json alike); a view that sets one of these headers itself keeps its own.

- Pages and static files: scripts and styles only from our own origin, so no inline `<script>`,
  no `on…=` handler, no `style=` attribute and no `<style>` runs (htmx is configured through a
  `<meta name="htmx-config">`, with its indicator styles off and `style` left out of the
  attributes its settle step copies with `setAttribute`). Product images may be absolute
  http(s) URLs (the contract allows them), so `img-src` lets those through.
- `/api/docs` (Swagger UI): the same, plus `img-src data:` for the icons its stylesheet embeds.
  Its set-up lives in `static/js/swagger-init.js`, so it needs no script hash; React sets its
  styles through the DOM (not blocked by CSP), so it needs no `'unsafe-inline'` style either.
- JSON under `/api`: nothing to load at all (`default-src 'none'`).
- HSTS only when the site is configured for HTTPS (`SESSION_COOKIE_SECURE`): sent over plain
  HTTP it is ignored by browsers, and promising HTTPS for a year on a site that lacks it would
  lock shoppers out.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

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

DOCS_ENDPOINT = "api.swagger_ui"
HSTS = "max-age=31536000"

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # The URL (with its search words) never leaves the site; other sites see no referrer at all.
    "Referrer-Policy": "same-origin",
    # For browsers that predate frame-ancestors.
    "X-Frame-Options": "DENY",
    # A page opened from the shop cannot reach back into it through window.opener.
    "Cross-Origin-Opener-Policy": "same-origin",
}


def content_security_policy() -> str:
    """The policy for the current request: Swagger UI, the JSON API, or pages and files."""
    if request.endpoint == DOCS_ENDPOINT:
        return DOCS_POLICY
    if request.path == "/api" or request.path.startswith("/api/"):
        return API_POLICY
    return PAGE_POLICY


def https_configured() -> bool:
    """Whether the site is served over HTTPS (the switch that also makes the cookie Secure)."""
    return bool(current_app.config.get("SESSION_COOKIE_SECURE"))


def add_security_headers(response: Response) -> Response:
    """Set the security headers the response does not already carry."""
    headers = response.headers
    # One pass over the headers instead of a scan per header (`setdefault`).
    present = {name.lower() for name, _value in headers.items()}
    if "content-security-policy" not in present:
        headers.add("Content-Security-Policy", content_security_policy())
    for name, value in STATIC_HEADERS.items():
        if name.lower() not in present:
            headers.add(name, value)
    if https_configured() and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", HSTS)
    return response


def register_security(app: Flask) -> None:
    """Put the security headers on every response of `app`."""
    app.after_request(add_security_headers)
