"""CORS for the JSON API (flask-cors), evaluated only for requests that ask for it.

A browser sends `Origin` with every cross-origin request, and only a cross-origin answer's
`Access-Control-*` headers mean anything to it. flask-cors would otherwise work through its
options on every response (~9 µs, a fiftieth of a product's detail) and, by default
(`always_send`), list the allowed origins even to a request without `Origin`: a same-origin
page, a server, curl. Here CORS is `always_send=False`, and the step is skipped outright when
no `Origin` came, which is exactly what flask-cors would then do: add nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, request

from .extensions import cors

ResponseStep = Callable[[Response], Response]


def _when_cross_origin(step: ResponseStep) -> ResponseStep:
    def cors_after_request(response: Response) -> Response:
        if "HTTP_ORIGIN" not in request.environ:
            return response
        return step(response)

    return cors_after_request


def register(app: Flask) -> None:
    """Let `CORS_ORIGINS` call `/api` with credentials; answer others without a grant."""
    before = list(app.after_request_funcs.get(None, ()))
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        supports_credentials=True,
        expose_headers=["Location", "Retry-After", "ETag", "X-Request-ID"],
        max_age=600,
        always_send=False,
    )
    steps = app.after_request_funcs[None]
    (added,) = [step for step in steps if step not in before]
    steps[steps.index(added)] = _when_cross_origin(added)
