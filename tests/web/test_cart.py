"""The cart pages: forms with CSRF tokens, post/redirect/get without JavaScript, htmx fragments."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from storefront import exempt_api_from_csrf
from storefront.extensions import csrf
from tests.web.conftest import cart_count, csrf_token, htmx

NBSP = "\u00a0"


def post(client: FlaskClient, path: str, data: dict, headers: dict | None = None, token=True):
    """POST a page form as a browser does, with the page's CSRF token unless told not to."""
    form = dict(data)
    if token:
        form["csrf_token"] = csrf_token(client)
    return client.post(path, data=form, headers=headers or {})


def line_ids(client: FlaskClient) -> list[int]:
    """The cart's line ids, in order (read through the JSON API the pages share)."""
    return [item["id"] for item in client.get("/api/cart/").get_json()["items"]]


def quantities(client: FlaskClient) -> list[int]:
    """The cart's quantities, in order."""
    return [item["quantity"] for item in client.get("/api/cart/").get_json()["items"]]


def test_empty_cart_page(client: FlaskClient) -> None:
    response = client.get("/cart")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "В корзине пока пусто" in html
    assert cart_count(html) == 0
    assert "private" in response.headers["Cache-Control"]


def test_add_without_javascript_redirects_with_a_flash(client: FlaskClient, demo) -> None:
    mouse = demo["Беспроводная мышь"]
    response = post(client, "/cart/add", {"product_id": mouse, "quantity": "2", "next": "/?page=1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/?page=1"
    page = client.get("/?page=1").get_data(as_text=True)
    assert "Товар добавлен в корзину." in page
    assert cart_count(page) == 2
    # The flash is shown once.
    assert "Товар добавлен в корзину." not in client.get("/").get_data(as_text=True)
    cart = client.get("/cart").get_data(as_text=True)
    assert "Беспроводная мышь" in cart and f"5{NBSP}198{NBSP}₽" in cart


def test_catalog_buttons_add_one(client: FlaskClient, demo) -> None:
    post(client, "/cart/add", {"product_id": demo["Блендер"]})
    post(client, "/cart/add", {"product_id": demo["Блендер"]})
    assert quantities(client) == [2]


@pytest.mark.parametrize("next_url", ["//evil.example/", "https://evil.example/", "/\\evil", ""])
def test_next_must_be_a_path_on_this_site(client: FlaskClient, demo, next_url: str) -> None:
    response = post(client, "/cart/add", {"product_id": demo["Блендер"], "next": next_url})
    assert response.headers["Location"] == "/cart"


def test_htmx_add_answers_the_notice_and_the_header_count(client: FlaskClient, demo) -> None:
    response = post(
        client, "/cart/add", {"product_id": demo["Блендер"], "quantity": "3"}, htmx("notice")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert "Товар добавлен в корзину." in html and 'href="/cart"' in html
    assert re.search(r'<span id="cart-count" class="cart-count" hx-swap-oob="true">', html)
    assert cart_count(html) == 3


def test_form_post_without_a_token_is_refused_kindly(client: FlaskClient, demo) -> None:
    response = post(client, "/cart/add", {"product_id": demo["Блендер"]}, token=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Обновите страницу" in html and "<html" in html
    assert quantities(client) == []


def test_htmx_post_without_a_token_shows_the_message_in_the_notice(
    client: FlaskClient, demo
) -> None:
    response = post(client, "/cart/add", {"product_id": demo["Блендер"]}, htmx("notice"), False)
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#notice"
    assert response.headers["HX-Reswap"] == "innerHTML"
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Обновите страницу" in html


def test_a_wrong_token_is_refused(client: FlaskClient, demo) -> None:
    client.get("/cart")
    response = client.post("/cart/add", data={"product_id": 1, "csrf_token": "forged"})
    assert response.status_code == 400


def test_htmx_may_send_the_token_as_a_header(client: FlaskClient, demo) -> None:
    token = csrf_token(client)
    response = client.post(
        "/cart/add",
        data={"product_id": demo["Блендер"]},
        headers={**htmx("notice"), "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert quantities(client) == [1]


def test_every_page_carries_the_token_for_htmx(client: FlaskClient, demo) -> None:
    for path in ("/", f"/products/{demo['Блендер']}", "/cart"):
        html = client.get(path).get_data(as_text=True)
        assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": ?\"[^\"]+\"\}'>", html), path


def test_json_cart_post_needs_no_csrf_token(client: FlaskClient, demo) -> None:
    response = client.post("/api/cart/", json={"product_id": demo["Блендер"]})
    assert response.status_code == 201
    assert response.get_json()["total_quantity"] == 1
    item = response.get_json()["items"][0]["id"]
    assert client.put(f"/api/cart/{item}/", json={"quantity": 4}).status_code == 200
    assert client.delete(f"/api/cart/{item}/").status_code == 200
    assert client.delete("/api/cart/").status_code == 200


def test_nested_api_blueprints_are_exempt_too() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", TESTING=True)
    csrf.init_app(app)
    api = Blueprint("api", __name__, url_prefix="/api")
    nested = Blueprint("orders", __name__, url_prefix="/orders")
    nested.post("/")(lambda: "made")
    api.register_blueprint(nested)
    app.register_blueprint(api)
    pages = Blueprint("pages", __name__)
    pages.post("/form")(lambda: "posted")
    app.register_blueprint(pages)
    exempt_api_from_csrf(app, "api")
    client = app.test_client()
    assert client.post("/api/orders/", json={}).status_code == 200
    assert client.post("/form", data={}).status_code == 400


def test_pages_and_api_share_one_cart(client: FlaskClient, demo) -> None:
    client.post("/api/cart/", json={"product_id": demo["Блендер"], "quantity": 2})
    html = client.get("/cart").get_data(as_text=True)
    assert "Блендер" in html and cart_count(html) == 2


@pytest.fixture
def two_lines(client: FlaskClient, demo) -> list[int]:
    """A cart with a mouse (2) and a blender (1); returns the line ids."""
    client.post("/api/cart/", json={"product_id": demo["Беспроводная мышь"], "quantity": 2})
    client.post("/api/cart/", json={"product_id": demo["Блендер"], "quantity": 1})
    return line_ids(client)


def test_cart_page_lists_lines_and_totals(client: FlaskClient, two_lines) -> None:
    html = client.get("/cart").get_data(as_text=True)
    assert f"5{NBSP}198{NBSP}₽" in html  # 2 × 2 599
    assert f"15{NBSP}197{NBSP}₽" in html  # + 9 999
    assert f'action="/cart/items/{two_lines[0]}"' in html
    assert f'action="/cart/items/{two_lines[0]}/remove"' in html
    assert 'action="/cart/clear"' in html


def test_set_quantity_without_javascript(client: FlaskClient, two_lines) -> None:
    response = post(client, f"/cart/items/{two_lines[0]}", {"quantity": "5"})
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    assert quantities(client) == [5, 1]
    assert "Количество изменено." in client.get("/cart").get_data(as_text=True)


@pytest.mark.parametrize(("step", "expected"), [("1", [3, 1]), ("-1", [1, 1])])
def test_steppers_apply_to_the_typed_number(client, two_lines, step, expected) -> None:
    post(client, f"/cart/items/{two_lines[0]}", {"quantity": "2", "step": step})
    assert quantities(client) == expected


def test_stepping_below_one_removes_the_line(client: FlaskClient, two_lines) -> None:
    post(client, f"/cart/items/{two_lines[1]}", {"quantity": "1", "step": "-1"})
    assert quantities(client) == [2]


def test_htmx_quantity_change_answers_the_cart_fragment(client: FlaskClient, two_lines) -> None:
    response = post(client, f"/cart/items/{two_lines[0]}", {"quantity": "3"}, htmx("cart"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert '<section id="cart"' in html
    assert f"17{NBSP}796{NBSP}₽" in html  # 3 × 2 599 + 9 999
    assert cart_count(html) == 4 and 'hx-swap-oob="true"' in html
    assert '<div id="notice" hx-swap-oob="innerHTML">' in html
    assert "Количество изменено." in html


def test_over_the_limit_keeps_the_cart_and_says_so(client: FlaskClient, two_lines) -> None:
    response = post(client, f"/cart/items/{two_lines[0]}", {"quantity": "150"}, htmx("cart"))
    html = response.get_data(as_text=True)
    # 200: htmx swaps it, and the browser logs no error; the message is in the fragment.
    assert response.status_code == 200
    assert '<section id="cart"' in html
    assert "не больше 99" in html and 'role="alert"' in html
    assert cart_count(html) == 3
    assert quantities(client) == [2, 1]
    response = post(client, f"/cart/items/{two_lines[0]}", {"quantity": "99", "step": "1"})
    assert response.status_code == 303
    assert "не больше 99" in client.get("/cart").get_data(as_text=True)
    assert quantities(client) == [2, 1]


def test_adding_past_the_limit_says_so(client: FlaskClient, demo) -> None:
    post(client, "/cart/add", {"product_id": demo["Блендер"], "quantity": "98"})
    response = post(
        client, "/cart/add", {"product_id": demo["Блендер"], "quantity": "5"}, htmx("notice")
    )
    assert response.status_code == 200
    assert 'class="flash flash-error"' in response.get_data(as_text=True)
    assert "не больше 99" in response.get_data(as_text=True)
    assert quantities(client) == [98]


@pytest.mark.parametrize("quantity", ["abc", "", "-1", "1.5", "１"])
def test_bad_quantities_are_explained(client: FlaskClient, two_lines, quantity: str) -> None:
    response = post(client, f"/cart/items/{two_lines[0]}", {"quantity": quantity}, htmx("cart"))
    assert response.status_code == 200
    assert "Введите целое число от 0 до 99." in response.get_data(as_text=True)
    assert quantities(client) == [2, 1]


def test_unknown_product_is_explained(client: FlaskClient, demo) -> None:
    response = post(client, "/cart/add", {"product_id": "999999"}, htmx("notice"))
    assert response.status_code == 200
    assert "Этого товара уже нет" in response.get_data(as_text=True)


def test_remove_and_clear(client: FlaskClient, two_lines) -> None:
    response = post(client, f"/cart/items/{two_lines[0]}/remove", {}, htmx("cart"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Беспроводная мышь" not in html
    assert f"9{NBSP}999{NBSP}₽" in html and cart_count(html) == 1
    response = post(client, "/cart/clear", {})
    assert response.status_code == 303
    page = client.get("/cart").get_data(as_text=True)
    assert "Корзина очищена." in page and "В корзине пока пусто" in page
    assert cart_count(page) == 0


def test_a_line_of_another_session_is_not_found(app: Flask, two_lines) -> None:
    stranger = app.test_client()
    stranger.post("/api/cart/", json={"product_id": 1})
    response = post(stranger, f"/cart/items/{two_lines[0]}/remove", {}, htmx("cart"))
    assert response.status_code == 200
    assert "Этой позиции уже нет в корзине" in response.get_data(as_text=True)
    response = post(stranger, f"/cart/items/{two_lines[0]}", {"quantity": "1"})
    assert response.status_code == 303


def test_cart_routes_refuse_get_and_bad_ids(client: FlaskClient) -> None:
    assert client.get("/cart/add").status_code == 405
    assert client.post("/cart/items/0", data={}).status_code in {400, 404}
    assert client.get("/cart/items/abc").status_code == 404
