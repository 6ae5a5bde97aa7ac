"""What the OpenAPI fuzzing (tests/fuzz) and other checks from outside found, kept as plain
tests on both databases.

Each test names the case it comes from; see tests/fuzz/test_openapi_fuzz.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from storefront.routing import MAX_URL_BYTES
from tests.factories import AUTH, create_product

CART = "/api/cart/"
PROBLEM = "application/problem+json"


def send_json(client: FlaskClient, method: str, url: str, text: str) -> TestResponse:
    """A request whose JSON body is exactly `text` (numbers spelled as the client spelled them)."""
    return client.open(url, method=method, data=text, content_type="application/json")


def error_locs(response: TestResponse) -> list[list[Any]]:
    """The `loc` of every entry of a 422 problem's `errors`."""
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return [error["loc"] for error in response.get_json()["errors"]]


# --- integers written with a fraction or an exponent ----------------------------------------------
# Schemathesis, generating valid bodies from the document, sent `{"product_id": 22,
# "quantity": 52.0}` and `{"quantity": 47.0}` and got 422 "Input should be a valid integer". JSON
# Schema's "integer" (what the document says) is every number without a fractional part, so those
# bodies are valid; the API now reads them as the integers they are.


@pytest.mark.parametrize("spelled", ["2.0", "2.00", "2e0", "0.2e1", "20E-1"])
def test_whole_number_quantity_is_an_integer(client: FlaskClient, spelled: str) -> None:
    """`"quantity": 2.0` adds 2, like `2`; the line and the totals say 2."""
    product = create_product(client, price=100)
    response = send_json(
        client, "POST", CART, f'{{"product_id": {product["id"]}, "quantity": {spelled}}}'
    )
    assert response.status_code == 201, response.get_json()
    cart = response.get_json()
    assert [item["quantity"] for item in cart["items"]] == [2]
    assert cart["total_quantity"] == 2
    assert cart["total_price"] == 200


def test_whole_number_product_id_and_update(client: FlaskClient) -> None:
    """`"product_id": 7.0` names product 7; `PUT {"quantity": 5.0}` sets 5; `0.0` removes."""
    product = create_product(client)
    added = send_json(client, "POST", CART, f'{{"product_id": {product["id"]}.0}}')
    assert added.status_code == 201, added.get_json()
    line = added.get_json()["items"][0]
    assert (line["product"]["id"], line["quantity"]) == (product["id"], 1)

    changed = send_json(client, "PUT", f"{CART}{line['id']}/", '{"quantity": 5.0}')
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["items"][0]["quantity"] == 5

    removed = send_json(client, "PUT", f"{CART}{line['id']}/", '{"quantity": 0.0}')
    assert removed.status_code == 200, removed.get_json()
    assert removed.get_json()["items"] == []


@pytest.mark.parametrize(
    "spelled",
    [
        "1.5",  # a fraction is not an integer
        "2.000000000000000000000000001",
        '"2"',  # types stay strict: a string is not a number
        "true",
        "1e999999999",  # a huge exponent is refused at once, never expanded
        "-1e999999999",
        "100.0",  # still 1-99
        "0.0",
    ],
)
def test_non_integer_quantity_still_refused(client: FlaskClient, spelled: str) -> None:
    """Fractions, strings, booleans, huge exponents and out-of-range values stay a 422."""
    product = create_product(client)
    response = send_json(
        client, "POST", CART, f'{{"product_id": {product["id"]}, "quantity": {spelled}}}'
    )
    assert error_locs(response) == [["body", "quantity"]]
    assert client.get(CART).get_json()["items"] == []


@pytest.mark.parametrize("spelled", ["2147483648.0", "0.0", "1.5", "1e10"])
def test_whole_number_product_id_out_of_range_is_422(client: FlaskClient, spelled: str) -> None:
    """Ids keep their range in a body: 1 to 2 147 483 647, however the number is written."""
    response = send_json(client, "POST", CART, f'{{"product_id": {spelled}}}')
    assert error_locs(response) == [["body", "product_id"]]


# --- a URL longer than the HTTP server reads ---------------------------------------------------
# Schemathesis sent `GET /api/products/` with a dozen long Unicode `category` values: valid per
# the document, but a request line over gunicorn's 4094 bytes, refused by gunicorn itself with an
# HTML 414 that the document did not list. The app now answers every URL over MAX_URL_BYTES
# itself, with a problem+json 414 the document lists, and the servers' own limits sit above it
# (tests/test_deploy_files.py); under it, the same kind of query is an ordinary answer.


def test_list_documents_uri_too_long(client: FlaskClient) -> None:
    """Operations with query parameters list 414 as problem+json; the limit is in the text."""
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            has_query = any(param["in"] == "query" for param in operation["parameters"])
            assert ("414" in operation["responses"]) == has_query, (method, path)
    response = document["paths"]["/api/products/"]["get"]["responses"]["414"]
    assert response["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert f"{MAX_URL_BYTES} bytes" in response["description"]


def test_long_query_under_the_limit_reaches_the_app_fine(client: FlaskClient) -> None:
    """The same kind of query, just under MAX_URL_BYTES as sent, is an ordinary 200."""
    create_product(client, category="Тест")
    categories = [("ё" * 98) + str(n) for n in range(10)] + ["тест"]
    query = urlencode({"category": categories, "search": "т" * 200}, doseq=True)
    url = f"/api/products/?{query}&pad="
    url += "x" * (MAX_URL_BYTES - len(url))  # unknown parameters are ignored
    assert len(url) == MAX_URL_BYTES
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"] == 0


@pytest.mark.parametrize("path", ["/api/products/", "/api/cart/", "/"])
def test_url_over_the_limit_is_414_from_the_app(client: FlaskClient, path: str) -> None:
    """One byte over MAX_URL_BYTES: 414, problem+json under /api, a page elsewhere."""
    url = f"{path}?search="
    url += "x" * (MAX_URL_BYTES + 1 - len(url))
    response = client.get(url)
    assert response.status_code == 414
    if path.startswith("/api/"):
        assert response.mimetype == PROBLEM
        assert f"{MAX_URL_BYTES} bytes" in response.get_json()["detail"]
    else:
        assert response.mimetype == "text/html"


# --- an empty body declared as JSON -------------------------------------------------------------
# `POST /api/cart/` with `Content-Type: application/json` and an empty body answered 422 "a JSON
# body is required". An empty body is not JSON: the contract's "unparsable JSON -> 400" applies,
# for every endpoint that takes a body. Without a Content-Type, a missing body stays a 422 at
# `["body"]` (nothing was sent that could be malformed), and a DELETE needs no body at all.

BODY_ENDPOINTS = [
    ("POST", "/api/products/"),
    ("POST", "/api/products/bulk/"),
    ("PATCH", "/api/products/1/"),
    ("POST", CART),
    ("PUT", f"{CART}1/"),
]


def open_raw(client: FlaskClient, method: str, url: str, **environ: str) -> TestResponse:
    """A request with exactly the CGI variables in `environ` (CONTENT_TYPE, CONTENT_LENGTH...)."""
    return client.open(url, method=method, headers=AUTH, environ_overrides=environ)


@pytest.mark.parametrize(("method", "url"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "declared",
    [
        pytest.param({"CONTENT_LENGTH": "0"}, id="content-length-0"),
        pytest.param({}, id="no-content-length"),
        pytest.param({"HTTP_TRANSFER_ENCODING": "chunked"}, id="chunked-nothing"),
    ],
)
def test_empty_json_body_is_400(
    client: FlaskClient, method: str, url: str, declared: dict[str, str]
) -> None:
    """`Content-Type: application/json` with an empty body: 400 problem+json, nothing written."""
    response = open_raw(client, method, url, CONTENT_TYPE="application/json", **declared)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert "empty" in response.get_json()["detail"]
    assert client.get("/api/products/").get_json()["total"] == 0


@pytest.mark.parametrize(("method", "url"), BODY_ENDPOINTS)
def test_no_body_and_no_content_type_is_422_at_body(
    client: FlaskClient, method: str, url: str
) -> None:
    """Without a body or a Content-Type, the missing body is a 422 located at `["body"]`."""
    assert error_locs(open_raw(client, method, url)) == [["body"]]


@pytest.mark.parametrize("url", [CART, f"{CART}1/"])
def test_delete_with_json_content_type_and_no_body_is_fine(client: FlaskClient, url: str) -> None:
    """A DELETE declaring JSON but sending nothing is still a DELETE without a body."""
    product = create_product(client)
    line = client.post(CART, json={"product_id": product["id"]}).get_json()["items"][0]
    target = f"{CART}{line['id']}/" if url != CART else CART
    response = open_raw(client, "DELETE", target, CONTENT_TYPE="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["items"] == []
