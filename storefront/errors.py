"""Errors: problem+json (RFC 9457) under /api, friendly pages elsewhere, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from flask import Flask, Response, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from jinja2 import TemplateNotFound
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from .routing import is_api_path

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
        code: str | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        # The machine-readable `code` (checkout, orders, account) and members beyond RFC 9457's.
        self.code = code
        self.extra = dict(extra or {})


def validation_error(errors: Iterable[Mapping[str, object]]) -> ApiError:
    """A 422 listing each bad value with its location."""
    return ApiError(422, "Some values are invalid; see errors.", errors=errors)


# Under these paths every problem carries a machine-readable `code`: its own, or by status.
CODED_PREFIXES = ("/api/checkout", "/api/orders", "/api/account")
GENERIC_CODES = {
    400: "malformed_json",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    errors: list[Mapping[str, object]] | None = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
    extra: Mapping[str, object] | None = None,
) -> Response:
    """A problem+json response."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if code is None and request.path.startswith(CODED_PREFIXES):
        code = GENERIC_CODES.get(status, "error")
    if code is not None:
        body["code"] = code
    if errors is not None:
        body["errors"] = errors
    body.update(extra or {})
    response = current_app.json.response(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def _wants_problem() -> bool:
    return is_api_path(request.path)


# What a person reads on an error page (the API keeps its problem details).
NOT_UNDERSTOOD = (_l("Запрос не понят"), _l("Проверьте адрес или вернитесь в каталог."))
PAGE_TEXT = {
    400: NOT_UNDERSTOOD,
    404: (_l("Страница не найдена"), _l("По этому адресу ничего нет.")),
    405: (_l("Так не получится"), _l("Эта страница не принимает такой запрос.")),
    413: (_l("Слишком много данных"), _l("Запрос больше, чем принимает магазин.")),
    # A URL too long to read (see routing.MAX_URL_BYTES): the advice of any 400.
    414: NOT_UNDERSTOOD,
    429: (_l("Слишком много запросов"), _l("Подождите немного и попробуйте снова.")),
    500: (
        _l("Что-то сломалось"),
        _l("Ошибка на нашей стороне, она уже записана. Попробуйте ещё раз чуть позже."),
    ),
    503: (
        _l("Магазин ненадолго недоступен"),
        _l("База данных не отвечает. Попробуйте через несколько секунд."),
    ),
}
CSRF_TEXT = (
    _l("Страница устарела"),
    _l("Форма на этой странице устарела. Обновите страницу и повторите действие."),
)


def _page(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    text: tuple[object, object] | None = None,
) -> Response:
    from .web.htmx import is_htmx

    title, friendly = text or PAGE_TEXT.get(status, (None, None))
    message = str(friendly) if friendly else message
    # error_page: the layout makes no database query (the database may be why we are here).
    context = {"status": status, "title": title, "message": message, "error_page": True}
    if is_htmx():
        # htmx swaps this message into the page's notice area instead of the element it aimed at.
        html = render_template("_notice.html", notices=[("error", message)])
        headers = {**(headers or {}), "HX-Retarget": "#notice", "HX-Reswap": "innerHTML"}
    else:
        try:
            html = render_template(f"errors/{status}.html", **context)
        except TemplateNotFound:
            html = render_template("errors/error.html", **context)
    response = current_app.response_class(html, status=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response


def respond(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    """problem+json under /api, a page (or an htmx notice) elsewhere."""
    if _wants_problem():
        return problem(status, detail, headers=headers)
    return _page(status, detail, headers)


def _methods_with_slash() -> list[str]:
    """Methods of the API route at this path plus "/", for a 404 that should be a 405.

    Routes end in "/" with strict_slashes off, so `/api/products` finds the resource; but for
    a method the route lacks, werkzeug then reports 404 instead of 405. Ask the router again.
    """
    if not _wants_problem() or request.path.endswith("/"):
        return []
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        adapter.match(request.path + "/", method=request.method)
    except MethodNotAllowed as exc:
        return list(exc.valid_methods or [])
    except HTTPException:
        pass
    return []


def register_errorhandlers(app: Flask) -> None:
    """Answer every error as problem+json under /api and as a page elsewhere."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return problem(
            error.status,
            error.detail,
            errors=error.errors,
            headers=error.headers,
            code=error.code,
            extra=error.extra,
        )

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        # Only page forms are checked (the API is exempt): a stale or missing token means the
        # page was open too long or cookies were cleared; reloading it gives a fresh token.
        log.info("CSRF check failed on %s: %s", request.path, error.description)
        return _page(400, str(CSRF_TEXT[1]), text=CSRF_TEXT)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        headers = {k: v for k, v in error.get_headers() if k.lower() in {"allow", "retry-after"}}
        allowed = _methods_with_slash() if status == 404 else []
        if allowed:
            status, headers = 405, {"Allow": ", ".join(sorted(allowed))}
        detail = {
            404: "Nothing lives at this address.",
            405: f"{request.method} is not allowed here.",
            413: "The request body is larger than this endpoint accepts.",
        }.get(status, error.description or HTTP_STATUS_CODES.get(status, "Error"))
        return respond(status, detail, headers)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: DBAPIError) -> Response:
        log.warning("database unavailable: %s", error.orig)
        return respond(
            503,
            "The database is unavailable right now; try again in a few seconds.",
            {"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(500, "Something went wrong on our side; it has been logged.")
