"""Building blocks of the OpenAPI document: operations, parameters, answers, security."""

from __future__ import annotations

from typing import Any

from ... import schemas
from ...config import SESSION_COOKIE_NAME
from ...routing import MAX_URL_BYTES

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
ADMIN_SCHEME = "adminToken"
SESSION_SCHEME = "cartSession"
ADMIN = [{ADMIN_SCHEME: []}]

SECURITY_SCHEMES = {
    ADMIN_SCHEME: {"type": "http", "scheme": "bearer", "description": "STOREFRONT_ADMIN_TOKEN"},
    SESSION_SCHEME: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE_NAME,
        "description": "Flask's signed session cookie: it carries the cart token. The server "
        "sets it on the first change; without it (or with a forged one) a visitor gets a new, "
        "empty cart.",
    },
}

_PROBLEM_TEXT = {
    400: "Malformed JSON (an empty body declared as JSON included).",
    401: "Missing or wrong admin token.",
    403: "Forbidden origin, or admin writes disabled on this server.",
    404: "No such resource.",
    405: "Method not allowed.",
    413: "Body larger than allowed.",
    414: f"URL longer than {MAX_URL_BYTES} bytes (path and query string as sent). Send fewer or "
    "shorter filters. (Past the HTTP server's own request-line limit, a little higher, the "
    "server answers by itself, not with problem+json.)",
    409: "Refused by the state of things; `code` says why.",
    415: "The body is not application/json.",
    422: "Invalid values; `errors` lists each with its location.",
    429: "Too many requests; see Retry-After.",
    503: "Database unavailable; see Retry-After.",
}


def session_security(*, required: bool = False) -> list[dict[str, list[str]]]:
    """The `security` of an operation that uses the session cookie.

    Optional by default, as for the cart: `{}` (no cookie at all) is one of the alternatives, since
    a new visitor simply gets an empty cart (schemathesis' `ignored_auth` then expects no 401).
    """
    return [{SESSION_SCHEME: []}] if required else [{}, {SESSION_SCHEME: []}]


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


# Answers that say when to come back.
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def problem_response(code: int, schema: str = "Problem") -> dict[str, Any]:
    """The documented answer of status `code`: a problem+json of `schema`."""
    response: dict[str, Any] = {
        "description": _PROBLEM_TEXT[code],
        "content": {PROBLEM: {"schema": ref(schema)}},
    }
    if code in {429, 503}:
        response["headers"] = RETRY_AFTER
    return response


def problem_responses(*codes: int, schema: str = "Problem") -> dict[str, Any]:
    """The answers of `codes`, and the 405 and 503 any operation may give."""
    return {str(code): problem_response(code, schema) for code in sorted({*codes, 405, 503})}


def operation(
    operation_id: str,
    summary: str,
    ok: tuple[int, str, dict[str, Any] | None],
    problems: tuple[int, ...] = (),
    *,
    links: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    admin: bool = False,
    session: bool = False,
    tag: str = "products",
    headers: dict[str, Any] | None = None,
    description: str | None = None,
    security: list[dict[str, list[str]]] | None = None,
    problem_schema: str = "Problem",
    other_responses: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation; `admin` and `session` add their security and the answers they bring.

    `problem_schema` names the problems' schema (`CodedProblem` where problems carry a `code`);
    `other_responses` adds or replaces answers (a 409 with its own body).
    """
    status, success_text, schema = ok
    success: dict[str, Any] = {"description": success_text}
    if schema is not None:
        success.update(json_content(schema))
    if headers:
        success["headers"] = headers
    if links:
        success["links"] = links
    params = params or []
    if any(param["in"] == "query" for param in params):
        # A URL over MAX_URL_BYTES: only filters can make one that long.
        problems = (*problems, 414)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "parameters": params,
        "responses": {
            str(status): success,
            **problem_responses(*problems, schema=problem_schema),
        },
    }
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = {"required": True, **json_content(body)}
    if session:
        operation["security"] = session_security()
    if admin:
        operation["security"] = ADMIN
        # Admin writes are rate limited (RATE_LIMITS), like cart writes.
        operation["responses"].update(
            problem_responses(401, 403, 429, *problems, schema=problem_schema)
        )
    if security is not None:
        operation["security"] = security
    operation["responses"].update(other_responses or {})
    return operation


def query_param(
    name: str, schema: dict[str, Any], description: str, *, allow_empty: bool = False, **extra: Any
) -> dict[str, Any]:
    """An optional query parameter; `allow_empty`: `name=` is fine though `schema` refuses ""."""
    parameter = {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
        **extra,
    }
    if allow_empty:
        parameter["allowEmptyValue"] = True
    return parameter


def id_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID},
    }


def link(operation_id: str, description: str, **values: Any) -> dict[str, Any]:
    """An OpenAPI link: `values` fill the target's path parameters, `body` its request body."""
    link: dict[str, Any] = {"operationId": operation_id, "description": description}
    body = values.pop("body", None)
    if values:
        link["parameters"] = values
    if body is not None:
        link["requestBody"] = body
    return link
