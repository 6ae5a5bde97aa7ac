"""The API's own documentation: the OpenAPI document and the offline Swagger UI."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from storefront.money import PRICE_PATTERN, PRICE_STRING_PATTERN, parse_price
from storefront.ratelimit import GROUP_ATTRIBUTE
from tests.conftest import make_app
from tests.factories import AUTH, create_product

PROBLEM = "application/problem+json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
DOC_PATHS = ("/api/openapi.json", "/api/docs")
ADMIN_OPERATIONS = {
    ("/api/products/", "POST"),
    ("/api/products/bulk/", "POST"),
    ("/api/products/{product_id}/", "PATCH"),
    ("/api/products/{product_id}/", "DELETE"),
    ("/api/orders/{number}/", "PATCH"),
}
# Reads an admin may make with the token (every order), which others make without it.
ADMIN_OR_NOT = {("/api/orders/", "GET"), ("/api/orders/{number}/", "GET")}


class AssetLinks(HTMLParser):
    """Collects the URLs a page loads: `<script src>` and `<link href>`, and `data-*-url`."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.data_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the URL attributes of one tag."""
        values = {name: value or "" for name, value in attrs}
        if tag == "script" and "src" in values:
            self.assets.append(values["src"])
        if tag == "link" and "href" in values:
            self.assets.append(values["href"])
        self.data_urls += [v for k, v in values.items() if k.startswith("data-") and "url" in k]


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of the document by (path, METHOD)."""
    return {
        (path, method.upper()): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def served_routes(app: Flask) -> set[tuple[str, str]]:
    """(path, METHOD) of every /api route the app serves, in OpenAPI path syntax."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule.startswith(DOC_PATHS):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {
            (path, method) for method in rule.methods or () if method not in {"HEAD", "OPTIONS"}
        }
    return routes


def alternatives(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The plain schemas a value may match, nested `anyOf`s flattened."""
    if "anyOf" not in schema:
        return [schema]
    return [leaf for option in schema["anyOf"] for leaf in alternatives(option)]


def schema_validator(document: dict[str, Any], name: str) -> OAS31Validator:
    """A validator for the component schema `name`, its references resolved in `document`."""
    ref = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return OAS31Validator(ref)


def bearer_scheme(document: dict[str, Any]) -> str:
    """The name of the single http bearer security scheme."""
    schemes = document["components"]["securitySchemes"]
    names = [
        name
        for name, scheme in schemes.items()
        if scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
    ]
    assert len(names) == 1, schemes
    return names[0]


@pytest.fixture(scope="module")
def docs_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app for the docs, which never touch the database: an unused SQLite file will do."""
    return make_app(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'unused.sqlite3'}")


@pytest.fixture
def docs(docs_app: Flask) -> FlaskClient:
    """A client of `docs_app`."""
    return docs_app.test_client()


@pytest.fixture(scope="module")
def document(docs_app: Flask) -> dict[str, Any]:
    """The OpenAPI document as the app serves it."""
    response = docs_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


# --- the OpenAPI document -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/openapi.json/"])
def test_openapi_document_is_valid_31(docs: FlaskClient, path: str) -> None:
    """The document is served with and without a slash, and is valid OpenAPI 3.1."""
    response = docs.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1.")
    validate(spec)


def test_document_lists_every_api_route(docs_app: Flask, document: dict[str, Any]) -> None:
    """Every /api path and method the app serves is documented, and nothing more."""
    assert set(operations(document)) == served_routes(docs_app)


def test_bearer_scheme_is_declared(document: dict[str, Any]) -> None:
    """The admin token is an http bearer scheme."""
    assert bearer_scheme(document)


def test_bearer_scheme_on_exactly_admin_operations(document: dict[str, Any]) -> None:
    """The admin operations, and no read or cart operation, require the bearer token."""
    scheme = bearer_scheme(document)
    secured = {
        key
        for key, operation in operations(document).items()
        if any(scheme in item for item in operation.get("security", document.get("security", [])))
    }
    assert secured == ADMIN_OPERATIONS | ADMIN_OR_NOT
    for key in ADMIN_OR_NOT:
        assert {} in operations(document)[key]["security"]
    for key in ADMIN_OPERATIONS:
        assert operations(document)[key]["security"] == [{scheme: []}]
        assert {"401", "403"} <= operations(document)[key]["responses"].keys()


def test_problem_responses_use_problem_json(document: dict[str, Any]) -> None:
    """Every error response of every operation is application/problem+json with Problem; under
    /api/checkout, /api/orders and /api/account with CodedProblem (or, for a refused checkout,
    its 409)."""
    for (path, method), operation in operations(document).items():
        coded = path.startswith(("/api/checkout", "/api/orders", "/api/account"))
        errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
        assert errors, (path, method)
        for code, response in errors.items():
            name = "CodedProblem" if coded else "Problem"
            if (path, method, code) == ("/api/checkout/", "POST", "409"):
                name = "CheckoutConflict"
            schema = {"$ref": f"#/components/schemas/{name}"}
            assert response["content"] == {PROBLEM: {"schema": schema}}, (path, method, code)
    for name in ("Problem", "CodedProblem", "CheckoutConflict"):
        required = document["components"]["schemas"][name]["required"]
        assert {"type", "title", "status", "detail"} <= set(required)
    assert "code" in document["components"]["schemas"]["CodedProblem"]["required"]


def rate_limited_routes(app: Flask) -> set[tuple[str, str]]:
    """(path, METHOD) of every /api route whose view is rate limited (`@rate_limited`)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.rule.startswith("/api/") and getattr(view, GROUP_ATTRIBUTE, None):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m) for m in rule.methods or () if m not in {"HEAD", "OPTIONS"}}
    return routes


def test_429_with_retry_after_on_exactly_the_limited_operations(
    docs_app: Flask, document: dict[str, Any]
) -> None:
    """Each rate-limited operation documents 429 and its Retry-After; reads do not."""
    limited = rate_limited_routes(docs_app)
    assert ADMIN_OPERATIONS.issubset(limited)
    assert ("/api/cart/", "POST") in limited
    documented = {key for key, op in operations(document).items() if "429" in op["responses"]}
    assert documented == limited
    for key in limited:
        headers = operations(document)[key]["responses"]["429"]["headers"]
        assert headers["Retry-After"]["schema"]["type"] == "integer", key


@pytest.mark.parametrize("model", ["ProductIn", "ProductPatch"])
def test_request_price_is_number_or_pattern_string(document: dict[str, Any], model: str) -> None:
    """A request price: a JSON number in (0, 1e9] in cents, or a string the API accepts."""
    price = document["components"]["schemas"][model]["properties"]["price"]
    kinds = {leaf["type"]: leaf for leaf in alternatives(price)}
    assert kinds["number"]["exclusiveMinimum"] == 0
    assert kinds["number"]["maximum"] == 1_000_000_000
    assert kinds["number"]["multipleOf"] == 0.01
    assert kinds["string"]["pattern"] == PRICE_STRING_PATTERN
    validator = schema_validator(document, model)
    base = {"name": "Лампа", "category": "Свет"}
    for good in (10.5, 1, "10.50", "2599", 1_000_000_000, "0.01", "00.5", "1000000000.00"):
        assert validator.is_valid({**base, "price": good}), good
    bad_prices = ("10.505", "1e3", "abc", " 10", True, 0, -5, 1_000_000_000.01, 1.999, "0")
    for bad in (*bad_prices, "0.00", "1000000000.01", "1000000001", "01234567890"):
        assert not validator.is_valid({**base, "price": bad}), bad


def accepted_price(text: str) -> bool:
    """Whether the API takes `text` as a price."""
    try:
        parse_price(text)
    except ValueError:
        return False
    return True


@settings(max_examples=3000, derandomize=True, database=None)
@given(st.from_regex(PRICE_PATTERN, fullmatch=True) | st.text("0123456789.,e- ", max_size=14))
def test_price_string_pattern_is_exactly_what_the_api_accepts(text: str) -> None:
    """The document's price regex (no lookahead) admits exactly the strings parse_price takes."""
    assert bool(re.fullmatch(PRICE_STRING_PATTERN, text)) == accepted_price(text), text


def test_price_string_pattern_at_its_edges() -> None:
    """0, 1 000 000 000 and their neighbours, with leading zeros and 0-2 decimals."""
    edges = ["0", "0.0", "0.00", "0.01", "0.1", "0000000000.01", "00000000000.01", "1", "01"]
    edges += ["999999999.99", "0999999999.99", "1000000000", "1000000000.0", "1000000000.00"]
    edges += ["1000000000.01", "1000000000.1", "1000000001", "9999999999", "10000000000"]
    for text in edges:
        assert bool(re.fullmatch(PRICE_STRING_PATTERN, text)) == accepted_price(text), text


# Values of every JSON type and many edges, for comparing the document with the API.
BODY_POOL: list[Any] = [
    None, True, 0, -5, 1, 1.5, 2.0, 1.999, 0.01, 99, 100, 10**9, 2**31, "", " ", "\u3000x",
    "0", "0.00", "7", "10.50", "1.999", "1000000000.01", "abc", "ж" * 100, "ж" * 101, "ж" * 200,
    "ж" * 201, "a\x00b", "/static/x.png", "/", "//evil.example", "/\\evil.example", "/a b",
    "https://cdn.example/x.png", "HTTP://CDN.EXAMPLE", "https://", "ftp://cdn.example/x",
    "javascript:alert(1)", "https://cdn.example/\u00a0x", [], {},
]  # fmt: skip
VALID_BODIES: dict[str, dict[str, Any]] = {
    "ProductIn": {"name": "Лампа", "price": 10, "category": "Свет"},
    "ProductPatch": {},
    "CartAdd": {"product_id": 1},
    "CartUpdate": {"quantity": 1},
}
BODY_OPERATIONS = [
    ("POST", "/api/products/", "ProductIn"),
    ("PATCH", "/api/products/{id}/", "ProductPatch"),
    ("POST", "/api/cart/", "CartAdd"),
    ("PUT", "/api/cart/1/", "CartUpdate"),
]


@pytest.mark.parametrize(("method", "url", "model"), BODY_OPERATIONS)
def test_document_and_validation_agree_on_bodies(
    app: Flask, document: dict[str, Any], method: str, url: str, model: str
) -> None:
    """Each field: the values the document admits pass validation, the others are a 422."""
    target = url.format(id=create_product(app.test_client())["id"])
    validator = schema_validator(document, model)
    for field in document["components"]["schemas"][model]["properties"]:
        for value in BODY_POOL:
            body = {**VALID_BODIES[model], field: value}
            # A new session each time: one cart's limits (99 of a product) are not the point.
            response = app.test_client().open(target, method=method, json=body, headers=AUTH)
            admitted = validator.is_valid(body)
            assert (response.status_code != 422) == admitted, (field, value, response.get_json())


QUERY_POOL: dict[str, list[str]] = {
    "category": ["", " ", "Свет", "к" * 100, "к" * 101, "a\x00"],
    "min_price": ["", " ", "0", "10", "1500,5", "99.90", " 10", "10 ", "-1", "1e3", "abc", "١٠"],
    "max_price": ["", "0", "1000000", "10.123456789", "9" * 14],
    "search": ["", " ", "мышь", "м" * 200, "м" * 201, "a\x00"],
    "sort": ["", " ", "price", "-name", "newest", "cheapest", " price"],
    "limit": ["", " ", "1", "100", "0", "101", "2.5", " 5", "05", "١٠"],
    "offset": ["", "0", "10000", "10001", "-1", " 1"],
    "in_stock": ["", "true", "false", "True", "1", "yes", " true"],
}


def admitted_query(parameter: dict[str, Any], value: str) -> bool:
    """Whether the document admits `value` for a query `parameter` (as schemathesis reads it)."""
    if value == "" and parameter.get("allowEmptyValue"):
        return True
    schema = parameter["schema"]
    if schema["type"] == "array":
        schema = schema["items"]
    if schema["type"] == "integer":
        if not re.fullmatch(r"-?[0-9]+", value):
            return False
        return OAS31Validator(schema).is_valid(int(value))
    return OAS31Validator(schema).is_valid(value)


def test_document_and_validation_agree_on_the_catalog_query(
    client: FlaskClient, document: dict[str, Any]
) -> None:
    """Each filter value: 200 exactly when the document admits it (an empty one included)."""
    parameters = document["paths"]["/api/products/"]["get"]["parameters"]
    assert {parameter["name"] for parameter in parameters} == set(QUERY_POOL)
    for parameter in parameters:
        for value in QUERY_POOL[parameter["name"]]:
            response = client.get("/api/products/", query_string={parameter["name"]: value})
            expected = 200 if admitted_query(parameter, value) else 422
            assert response.status_code == expected, (parameter["name"], value)


def test_every_filter_may_be_sent_empty(document: dict[str, Any]) -> None:
    """The contract: an empty value counts as absent; the document admits it for every filter."""
    for parameter in document["paths"]["/api/products/"]["get"]["parameters"]:
        assert admitted_query(parameter, ""), parameter["name"]


def test_offset_maximum_is_the_servers_count_cap(tmp_path: Path) -> None:
    """`offset` stops at COUNT_CAP, as configured on the server that serves the document."""
    app = make_app(f"sqlite:///{tmp_path / 'unused.sqlite3'}", COUNT_CAP=500)
    served = app.test_client().get("/api/openapi.json").get_json()
    parameters = served["paths"]["/api/products/"]["get"]["parameters"]
    (offset,) = [parameter for parameter in parameters if parameter["name"] == "offset"]
    assert offset["schema"]["maximum"] == 500


# Where the session cookie is optional: without one, a new visitor gets an empty cart (or
# checkout, or no orders), and the account's sign-up, sign-in and reset need none either.
OPTIONAL_SESSION = {
    ("/api/cart/", "GET"),
    ("/api/cart/", "POST"),
    ("/api/cart/", "DELETE"),
    ("/api/cart/{item_id}/", "PUT"),
    ("/api/cart/{item_id}/", "DELETE"),
    ("/api/checkout/", "GET"),
    ("/api/checkout/", "POST"),
    ("/api/orders/", "GET"),
    ("/api/orders/{number}/", "GET"),
    ("/api/orders/{number}/cancel/", "POST"),
    ("/api/account/register/", "POST"),
    ("/api/account/login/", "POST"),
    ("/api/account/logout/", "POST"),
    ("/api/account/password-reset/", "POST"),
    ("/api/account/password-reset/confirm/", "POST"),
}
# Where a signed-in session is required: without one, 401.
SIGNED_IN_SESSION = {
    ("/api/account/", "GET"),
    ("/api/account/", "PATCH"),
    ("/api/account/password/", "POST"),
}


def test_the_session_cookie_is_a_security_scheme_optional_or_required(
    document: dict[str, Any],
) -> None:
    """The cart and the sign-in live in the session cookie: an apiKey in a cookie, optional
    where a new visitor is served anyway, required (401 without) on the customer's own data."""
    schemes = document["components"]["securitySchemes"]
    assert schemes["cartSession"] == {
        **schemes["cartSession"],
        "type": "apiKey",
        "in": "cookie",
        "name": "storefront_session",
    }
    uses = {
        key
        for key, operation in operations(document).items()
        if any("cartSession" in item for item in operation.get("security", []))
    }
    assert uses == OPTIONAL_SESSION | SIGNED_IN_SESSION
    for key in OPTIONAL_SESSION:
        # `{}` first: no cookie is fine, so never a 401 for want of one.
        assert operations(document)[key]["security"][:2] == [{}, {"cartSession": []}]
        assert "401" not in operations(document)[key]["responses"] or key[0].endswith("login/")
    for key in SIGNED_IN_SESSION:
        assert operations(document)[key]["security"] == [{"cartSession": []}]
        assert "401" in operations(document)[key]["responses"]


@pytest.mark.parametrize("field", ["name", "description", "price", "category"])
def test_patch_schema_refuses_null_like_the_server(document: dict[str, Any], field: str) -> None:
    """The PATCH schema does not offer null for fields whose null the server refuses."""
    validator = schema_validator(document, "ProductPatch")
    assert not validator.is_valid({field: None})
    assert validator.is_valid({"image": None})
    assert validator.is_valid({})


@pytest.mark.parametrize(
    ("model", "field"),
    [("Product", "price"), ("CartItem", "line_total"), ("Cart", "total_price")],
)
def test_response_prices_are_numbers(document: dict[str, Any], model: str, field: str) -> None:
    """Prices in responses are JSON numbers."""
    assert document["components"]["schemas"][model]["properties"][field]["type"] == "number"


def test_live_answers_match_the_document(client: FlaskClient, document: dict[str, Any]) -> None:
    """Real responses validate against the schemas the document gives them."""
    product = create_product(client, price="2599.50", image="/static/x.png")
    answers = [
        ("Product", client.get(f"/api/products/{product['id']}/")),
        ("ProductPage", client.get("/api/products/")),
        ("Problem", client.get("/api/products/?limit=0")),
        ("Problem", client.get("/api/products/99999/")),
        ("Problem", client.post("/api/products/", json={})),
    ]
    for name, response in answers:
        schema_validator(document, name).validate(response.get_json())
    categories = client.get("/api/categories/").get_json()
    for category in categories:
        schema_validator(document, "Category").validate(category)


# --- Swagger UI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/docs", "/api/docs/"])
def test_swagger_ui_page(docs: FlaskClient, path: str) -> None:
    """The docs page answers 200 HTML at both paths, without a redirect."""
    response = docs.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "swagger-ui" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/docs", "/api/docs/"])
def test_swagger_ui_works_offline(docs: FlaskClient, path: str) -> None:
    """Every asset is an absolute local path the app serves; the page names no outside URL."""
    html = docs.get(path).get_data(as_text=True)
    assert not re.search(r"https?://", html, re.IGNORECASE)
    links = AssetLinks()
    links.feed(html)
    assert len(links.assets) >= 2
    for url in [*links.assets, *links.data_urls]:
        assert url.startswith("/") and not url.startswith("//"), url
        response = docs.get(url)
        assert response.status_code == 200, url
        response.close()


def test_swagger_ui_calls_no_validator(docs: FlaskClient) -> None:
    """The init script turns off the outside validator badge (validatorUrl: null)."""
    links = AssetLinks()
    links.feed(docs.get("/api/docs/").get_data(as_text=True))
    (init,) = [url for url in links.assets if Path(url).name == "swagger-init.js"]
    assert init.endswith("/js/swagger-init.js")
    response = docs.get(init)
    script = response.get_data(as_text=True)
    response.close()
    assert re.search(r"validatorUrl\s*:\s*null\b", script)
    assert not re.search(r"https?://", script, re.IGNORECASE)
