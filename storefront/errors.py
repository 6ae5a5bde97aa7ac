"""Errors: problem+json (RFC 9457) under /api, friendly pages elsewhere, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from flask import Flask, Response, current_app, render_template, request
from jinja2 import TemplateNotFound
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"


class ApiError(Exception):
    """An error the client caused (or may retry), answered as problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Iterable[Mapping[str, object]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})


def validation_error(errors: Iterable[Mapping[str, object]]) -> ApiError:
    """A 422 listing each bad value with its location."""
    return ApiError(422, "Some values are invalid; see errors.", errors=errors)


def problem(
    status: int,
    detail: str,
    *,
    errors: list[Mapping[str, object]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = current_app.json.response(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def _wants_problem() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _page(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    try:
        html = render_template(f"errors/{status}.html", status=status, message=message)
    except TemplateNotFound:
        html = render_template("errors/error.html", status=status, message=message)
    response = current_app.response_class(html, status=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _respond(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    if _wants_problem():
        return problem(status, detail, headers=headers)
    return _page(status, detail, headers)


def register_errorhandlers(app: Flask) -> None:
    """Answer every error as problem+json under /api and as a page elsewhere."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return problem(error.status, error.detail, errors=error.errors, headers=error.headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        headers = {k: v for k, v in error.get_headers() if k.lower() in {"allow", "retry-after"}}
        detail = {
            404: "Nothing lives at this address.",
            405: f"{request.method} is not allowed here.",
            413: "The request body is larger than this endpoint accepts.",
        }.get(status, error.description or HTTP_STATUS_CODES.get(status, "Error"))
        return _respond(status, detail, headers)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: DBAPIError) -> Response:
        log.warning("database unavailable: %s", error.orig)
        return _respond(
            503,
            "The database is unavailable right now; try again in a few seconds.",
            {"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, "Something went wrong on our side; it has been logged.")
