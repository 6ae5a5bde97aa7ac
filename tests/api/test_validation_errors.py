"""Every request body's bad values, as a client sees them: one clean `errors` entry per field.

The walk is driven by the OpenAPI document: for each operation with a JSON body, each field of
its schema gets every value of a pool that the document itself refuses for that field, and the
API must answer 422 naming exactly that field, in words, without pydantic's internals (a union's
member names such as `function-plain[parse_price()]` or `none` once leaked into `loc`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from pydantic import BaseModel, ValidationError
from werkzeug.test import TestResponse

from storefront.api.body import pydantic_issues
from storefront.api.openapi import openapi_document
from tests.factories import AUTH, product_data

DOCUMENT = openapi_document()
REF = "#/components/schemas/"
# Values of every JSON type and many edges; each field gets those its schema refuses.
POOL: list[Any] = [
    None,
    True,
    0,
    -5,
    1.5,
    1.999,
    0.001,
    100,
    10**10,
    2**31,
    "",
    " \t",
    "\u3000",
    "0",
    "1.999",
    "0.00",
    "1000000000.01",
    "01234567890",
    "abc",
    "ftp://cdn.example/x.png",
    "//evil.example/x.png",
    "/\\evil.example",
    "/a b.png",
    "https:///x.png",
    "a\x00b",
    "ж" * 101,
    "ж" * 201,
    "ж" * 2001,
    "ж" * 5001,
    [],
    [1],
    {},
    {"a": 1},
]
# A message says what to do: "must …" or "is …", with no code, class or validator names.
HUMAN = re.compile(r"^(must|is) [^\[\]{}<>]+$")
INTERNALS = ("function-", "constrained", "Input should", "Value error", "instance of", "pydantic")
MODEL_NAMES = tuple(DOCUMENT["components"]["schemas"])
# A valid body for each request schema, to which one bad field is added.
VALID: dict[str, dict[str, Any]] = {
    "ProductIn": product_data(),
    "ProductPatch": {},
    "CartAdd": {"product_id": 1},
    "CartUpdate": {"quantity": 1},
    "CheckoutIn": {
        "email": "ivan@example.ru",
        "name": "Иван",
        "phone": "+7 900 123-45-67",
        "delivery": {"method": "pickup", "address": None},
        "payment": "on_delivery",
        "expected_total": 0,
    },
    "StatusIn": {"status": "confirmed"},
    "RegisterIn": {"email": "new@example.com", "password": "long enough 1", "name": "Ольга"},
    "LoginIn": {"email": "walker@example.com", "password": "long enough 1"},
    "ProfilePatch": {},
    "PasswordChangeIn": {"current_password": "long enough 1", "new_password": "longer still 2"},
    "ResetRequestIn": {"email": "walker@example.com"},
    "ResetConfirmIn": {"token": "abc", "password": "long enough 1"},
}
# Operations on the signed-in customer: the walk signs in first (else they answer 401).
SIGNED_IN = {"/api/account/", "/api/account/password/"}


@pytest.fixture
def app_settings() -> dict[str, object]:
    """The walk sends a sign-in form far more often than anyone may try a password."""
    return {"RATE_LIMITS": "login=off;login_address=off"}


def body_operations() -> list[tuple[str, str, str, bool]]:
    """(METHOD, path with ids filled in, schema name, is a list) of every JSON-body operation."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            schema = body["content"]["application/json"]["schema"]
            is_list = schema.get("type") == "array"
            ref = (schema["items"] if is_list else schema)["$ref"]
            url = re.sub(r"\{[^}]+\}", "1", path)
            found.append((method.upper(), url, ref.removeprefix(REF), is_list))
    return found


OPERATIONS = body_operations()


def field_validator(model: str, field: str) -> OAS31Validator:
    """The document's own validator for one property of `model`."""
    schema = DOCUMENT["components"]["schemas"][model]["properties"][field]
    return OAS31Validator({**schema, "components": DOCUMENT["components"]})


def refused(model: str, field: str) -> list[Any]:
    """The pool's values that the document refuses for `model.field`."""
    validator = field_validator(model, field)
    return [value for value in POOL if not validator.is_valid(value)]


def is_object(model: str, field: str) -> bool:
    """Whether `model.field` is a JSON object (its own members can each be wrong)."""
    schema = DOCUMENT["components"]["schemas"][model]["properties"][field]
    return "oneOf" in schema or schema.get("type") == "object" or "$ref" in schema


def cases() -> list[Any]:
    """One parameter per operation and field."""
    params = []
    for method, url, model, is_list in OPERATIONS:
        for field in DOCUMENT["components"]["schemas"][model]["properties"]:
            name = f"{method} {url} {field}"
            params.append(pytest.param(method, url, model, is_list, field, id=name))
    return params


def send(client: FlaskClient, method: str, url: str, body: Any) -> TestResponse:
    """`body` as JSON with the admin token (admin operations check it before the body), from a
    signed-in customer where the operation needs one."""
    if url in SIGNED_IN and client.get("/api/account/").status_code == 401:
        credentials = {"email": "walker@example.com", "password": "long enough 1"}
        assert client.post("/api/account/register/", json=credentials).status_code == 201
    return client.open(
        url, method=method, data=json.dumps(body), content_type="application/json", headers=AUTH
    )


def wrap(model: str, is_list: bool, fields: dict[str, Any]) -> tuple[Any, list[str | int]]:
    """A body with `fields` over a valid one; in a list, as its second entry. And the loc prefix."""
    entry = {**VALID[model], **fields}
    if is_list:
        return [VALID[model], entry], ["body", 1]
    return entry, ["body"]


def assert_human(message: object) -> None:
    """A message a person can act on, with nothing of the code behind it."""
    assert isinstance(message, str) and HUMAN.match(message), message
    assert not any(word in message for word in INTERNALS + MODEL_NAMES), message


def issues(response: TestResponse) -> list[dict[str, Any]]:
    """The `errors` of a 422 problem."""
    text = response.get_data(as_text=True)
    assert response.status_code == 422, text
    assert response.mimetype == "application/problem+json"
    return json.loads(text)["errors"]


def test_the_walk_covers_every_request_schema() -> None:
    """Every operation with a body is walked, and each of its fields gets bad values."""
    assert {model for _, _, model, _ in OPERATIONS} == set(VALID)
    assert len(OPERATIONS) == 13
    for _, _, model, _ in OPERATIONS:
        for field in DOCUMENT["components"]["schemas"][model]["properties"]:
            assert len(refused(model, field)) >= 5, (model, field)


@pytest.mark.parametrize(("method", "url", "model", "is_list", "field"), cases())
def test_each_bad_value_is_one_entry_at_its_field(
    client: FlaskClient, method: str, url: str, model: str, is_list: bool, field: str
) -> None:
    """Each value the document refuses is a 422 with one entry at `[body, field]` (or inside the
    field, for an object such as `delivery` missing its `method`), in words."""
    for value in refused(model, field):
        body, prefix = wrap(model, is_list, {field: value})
        errors = issues(send(client, method, url, body))
        assert errors, value
        for error in errors:
            assert error["loc"][: len(prefix) + 1] == [*prefix, field], (value, errors)
            assert_human(error["msg"])
        # One entry, but for an object field (`delivery`): one per member it gets wrong.
        assert len(errors) == 1 or is_object(model, field), (value, errors)


@pytest.mark.parametrize(("method", "url", "model", "is_list"), [op[:4] for op in OPERATIONS])
def test_every_field_bad_at_once_is_one_entry_each(
    client: FlaskClient, method: str, url: str, model: str, is_list: bool
) -> None:
    """All fields bad together: exactly one entry per field, plus one for an unknown field."""
    fields = DOCUMENT["components"]["schemas"][model]["properties"]
    bad = {field: refused(model, field)[0] for field in fields}
    body, prefix = wrap(model, is_list, {**bad, "colour": "red"})
    errors = issues(send(client, method, url, body))
    locs = [error["loc"] for error in errors]
    assert sorted(map(str, locs)) == sorted(str([*prefix, f]) for f in [*fields, "colour"])
    for error in errors:
        assert_human(error["msg"])


@pytest.mark.parametrize(("method", "url", "model", "is_list"), [op[:4] for op in OPERATIONS])
@pytest.mark.parametrize("body", [[], {}, "text", 5, None], ids=repr)
def test_a_body_of_the_wrong_shape_is_one_entry_at_body(
    client: FlaskClient, method: str, url: str, model: str, is_list: bool, body: Any
) -> None:
    """A JSON body of the wrong type (or an empty list or object) is located at `body` itself."""
    response = send(client, method, url, body)
    if model in {"ProductPatch", "ProfilePatch"} and body == {}:
        assert response.status_code != 422  # an empty PATCH changes nothing
        return
    if not is_list and body == {}:
        errors = issues(response)  # missing required fields, each named
        assert all(error["loc"][:1] == ["body"] and len(error["loc"]) == 2 for error in errors)
    else:
        errors = issues(response)
        assert [error["loc"] for error in errors] == [["body"]]
    for error in errors:
        assert_human(error["msg"])


def test_a_union_never_reaches_loc() -> None:
    """The guard in pydantic_issues: a union's member names are cut from `loc`, one entry left."""

    class Sample(BaseModel):
        size: int | list[int] | None

    data = {"size": "big"}
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(data)
    # pydantic: one error per member of the union, each with the member's name in `loc`.
    locs = [error["loc"] for error in caught.value.errors()]
    assert locs == [("size", "int"), ("size", "list[int]")]
    found = pydantic_issues(caught.value, "body", data)
    assert [issue["loc"] for issue in found] == [["body", "size"]]
    assert_human(found[0]["msg"])
