"""Reading and validating JSON bodies exactly as the contract orders: 415, 400, then 422."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import simplejson
from flask import request
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

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


# pydantic's wording for its own error types, rewritten as the rest of our messages read.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "must have at least {min_length} entries",
    "too_long": "must have at most {max_length} entries",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
}


def _message(item: ErrorDetails) -> str:
    """What is wrong with one value, in words a person can act on."""
    context = item.get("ctx") or {}
    if item["type"] == "value_error":
        return str(context.get("error") or item["msg"].removeprefix("Value error, "))
    if item["type"] in {"string_too_short", "too_short"} and context.get("min_length") == 1:
        return "must not be empty"
    template = _MESSAGES.get(item["type"])
    if template is None:
        return item["msg"].replace("Input should be", "must be")
    return template.format(**context)


def _data_path(loc: tuple[int | str, ...], data: Any, *, missing: bool) -> list[int | str]:
    """The part of pydantic's `loc` that leads through the submitted data.

    pydantic puts the names of a union's members (`function-plain[...]`, `none`) and of other
    validators in `loc`; they are not where the value came from. A missing field is the one
    step that is not in the data.
    """
    path: list[int | str] = []
    node = data
    for step, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str):
            if part not in node and not (missing and step == len(loc) - 1):
                break
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        path.append(part)
    return path


def pydantic_issues(
    error: ValidationError, prefix: str | int, data: Any
) -> list[dict[str, object]]:
    """The contract's `errors` for `data`: one per bad value, located under `prefix`."""
    issues: dict[tuple[int | str, ...], dict[str, object]] = {}
    for item in error.errors(include_url=False, include_input=False):
        path = (prefix, *_data_path(item["loc"], data, missing=item["type"] == "missing"))
        # The first complaint about a value is the one to fix first; one entry per value.
        issues.setdefault(path, {"loc": list(path), "msg": _message(item)})
    return list(issues.values())


def parse_body(schema: type[M] | TypeAdapter[Any]) -> Any:
    """Read the JSON body and validate it with `schema` (a model or a TypeAdapter)."""
    return parse_body_with_raw(schema)[0]


def parse_body_with_raw(schema: type[M] | TypeAdapter[Any]) -> tuple[Any, Any]:
    """The validated body and the parsed JSON it came from (for fingerprints)."""
    data = read_json()
    if data is _NO_BODY:
        if request.mimetype == "application/json":
            # Declared JSON but empty (Content-Length: 0 too): not JSON at all, so malformed.
            raise ApiError(400, "The request body is empty; an empty body is not JSON.")
        raise validation_error([{"loc": ["body"], "msg": "is required: send a JSON body"}])
    try:
        if isinstance(schema, TypeAdapter):
            return schema.validate_python(data), data
        return schema.model_validate(data), data
    except ValidationError as exc:
        raise validation_error(pydantic_issues(exc, "body", data)) from exc
