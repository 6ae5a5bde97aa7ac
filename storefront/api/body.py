"""Reading and validating JSON bodies exactly as the contract orders: 415, 400, then 422."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import simplejson
from flask import request
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import ApiError, validation_error

M = TypeVar("M", bound=BaseModel)
_NO_BODY = object()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _integer(text: str) -> int | Decimal:
    # Python refuses to parse integers of over 4300 digits; keep them as a (rejected) number.
    return int(text) if len(text) <= 40 else Decimal(text)


def has_body() -> bool:
    """Whether the request carries a body at all."""
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def read_json() -> Any:
    """The parsed JSON body (`_NO_BODY` when there is none); 415 or 400 when it is not JSON."""
    if not has_body():
        return _NO_BODY
    if request.mimetype != "application/json":
        raise ApiError(415, "Send the request body as application/json.")
    raw = request.get_data(cache=True)
    if not raw:
        return _NO_BODY
    try:
        return simplejson.loads(
            raw.decode("utf-8"),
            parse_float=Decimal,
            parse_int=_integer,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "The request body is not valid JSON.") from exc


def pydantic_issues(error: ValidationError, prefix: str) -> list[dict[str, object]]:
    """Turn pydantic's errors into the contract's `errors` list, located under `prefix`."""
    issues = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a field of this request"
        issues.append({"loc": [prefix, *item["loc"]], "msg": message})
    return issues


def parse_body(schema: type[M] | TypeAdapter[Any]) -> Any:
    """Read the JSON body and validate it with `schema` (a model or a TypeAdapter)."""
    return parse_body_with_raw(schema)[0]


def parse_body_with_raw(schema: type[M] | TypeAdapter[Any]) -> tuple[Any, Any]:
    """The validated body and the parsed JSON it came from (for fingerprints)."""
    data = read_json()
    if data is _NO_BODY:
        raise validation_error([{"loc": ["body"], "msg": "a JSON body is required"}])
    try:
        if isinstance(schema, TypeAdapter):
            return schema.validate_python(data), data
        return schema.model_validate(data), data
    except ValidationError as exc:
        raise validation_error(pydantic_issues(exc, "body")) from exc
