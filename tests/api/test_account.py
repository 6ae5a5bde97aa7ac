"""Customer accounts through the API as a frontend meets them (contract: "Customer accounts")."""

from __future__ import annotations

import contextlib
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text, update
from werkzeug.test import TestResponse

from storefront.extensions import db
from storefront.models import PasswordReset
from tests.api.test_cart import CART, EMPTY_CART, add, body, error_locs, lines, problem
from tests.api.test_checkout import details
from tests.conftest import make_app
from tests.factories import AUTH, create_product

ACCOUNT = "/api/account/"
ORDERS = "/api/orders/"
COOKIE = "storefront_session"
EMAIL = "anna@example.ru"
PASSWORD = "correct horse 1"
NEW_PASSWORD = "battery staple 2"
RESET_LINK = re.compile(r"/account/password-reset\?token=([\w-]+)")
ANNA = {"email": EMAIL, "name": "Анна", "phone": None, "address": None}


def register(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD, **extra: Any):
    """POST /api/account/register with `extra` fields (a name, say)."""
    return client.post(f"{ACCOUNT}register/", json={"email": email, "password": password, **extra})


def login(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD) -> TestResponse:
    return client.post(f"{ACCOUNT}login/", json={"email": email, "password": password})


def logout(client: FlaskClient) -> TestResponse:
    return client.post(f"{ACCOUNT}logout/", json={})


def change_password(client: FlaskClient, current: str, new: str) -> TestResponse:
    return client.post(
        f"{ACCOUNT}password/", json={"current_password": current, "new_password": new}
    )


def request_reset(client: FlaskClient, email: str = EMAIL) -> TestResponse:
    return client.post(f"{ACCOUNT}password-reset/", json={"email": email})


def confirm_reset(client: FlaskClient, token: str, password: str = NEW_PASSWORD) -> TestResponse:
    return client.post(
        f"{ACCOUNT}password-reset/confirm/", json={"token": token, "password": password}
    )


def who(client: FlaskClient) -> str | None:
    """The email this client's session signs in, or None (a 401 `not_signed_in`)."""
    response = client.get(ACCOUNT)
    if response.status_code == 401:
        assert problem(response, 401)["code"] == "not_signed_in"
        return None
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["email"]


def cookie(client: FlaskClient) -> str:
    """The value of the client's session cookie (to replay it elsewhere)."""
    found = client.get_cookie(COOKIE)
    assert found is not None, "the client has no session cookie"
    return found.value


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """A second browser holding a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def signed_in(app: Flask, email: str = EMAIL, password: str = PASSWORD) -> FlaskClient:
    """A new device signed in as `email`."""
    device = app.test_client()
    assert login(device, email, password).status_code == 200
    return device


def sql(app: Flask, statement: str, **params: Any) -> list[Any]:
    with app.app_context():
        return list(db.session.execute(text(statement), params))


def reset_tokens(app: Flask) -> list[str]:
    """The tokens of the reset links queued in the outbox, oldest first (from the mails' text)."""
    rows = sql(app, "SELECT body_text FROM outbox WHERE kind = 'password_reset' ORDER BY id")
    return [RESET_LINK.search(row.body_text).group(1) for row in rows]


def order_numbers(client: FlaskClient) -> list[str]:
    response = client.get(ORDERS)
    assert response.status_code == 200
    return [order["number"] for order in response.get_json()["items"]]


@pytest.fixture
def anna(client: FlaskClient) -> FlaskClient:
    """Anna registered (and signed in) on `client`."""
    assert register(client, name="Анна").status_code == 201
    return client


@pytest.fixture
def goods(client: FlaskClient) -> dict[str, int]:
    """Ids of: a lamp (5 in stock), a mug (stock not tracked), a pen (100 in stock)."""
    return {
        "lamp": create_product(client, name="Лампа", price=1200, stock=5)["id"],
        "mug": create_product(client, name="Кружка", price=300, stock=None)["id"],
        "pen": create_product(client, name="Ручка", price=50, stock=100)["id"],
    }


# --- register -------------------------------------------------------------------------------


def test_register_answers_the_customer_and_signs_in(client: FlaskClient) -> None:
    response = register(client, name="Анна")
    assert response.status_code == 201
    assert response.get_json() == ANNA
    assert client.get(ACCOUNT).get_json() == ANNA


def test_the_name_may_be_left_out(client: FlaskClient) -> None:
    response = register(client)
    assert response.status_code == 201 and response.get_json()["name"] == ""


@pytest.mark.parametrize("again", ["anna@example.ru", "Anna@Example.RU", "ANNA@EXAMPLE.RU"])
def test_an_email_is_taken_whatever_its_case(app: Flask, anna, again: str) -> None:
    other = app.test_client()
    assert problem(register(other, again, "another password"), 409)["code"] == "email_taken"
    assert who(other) is None
    assert login(app.test_client(), EMAIL, PASSWORD).status_code == 200
    assert login(app.test_client(), EMAIL, "another password").status_code == 401


@pytest.mark.parametrize(
    "password",
    ["7 chars", "x" * 129, EMAIL, EMAIL.upper(), f"  {EMAIL}  ".strip().title()],
    ids=["7 characters", "129 characters", "the email", "the email in capitals", "title case"],
)
def test_a_bad_new_password_is_422_and_opens_nothing(client: FlaskClient, password: str) -> None:
    response = register(client, password=password)
    assert ["body", "password"] in error_locs(response)
    assert who(client) is None
    assert register(client).status_code == 201  # the email was not taken by the refused try


@pytest.mark.parametrize("password", ["8 chars!", "я" * 8, "x" * 128, "пароль☃️🙂x"])
def test_passwords_of_8_to_128_unicode_characters_are_accepted(
    app: Flask, client: FlaskClient, password: str
) -> None:
    assert register(client, password=password).status_code == 201
    assert login(app.test_client(), EMAIL, password).status_code == 200


# --- login ----------------------------------------------------------------------------------


def test_login_answers_the_customer_and_signs_in(app: Flask, anna) -> None:
    device = app.test_client()
    response = login(device, "ANNA@Example.ru", PASSWORD)
    assert response.status_code == 200
    assert response.get_json() == ANNA
    assert who(device) == EMAIL


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(app: Flask, anna) -> None:
    wrong = login(app.test_client(), EMAIL, "not the password")
    unknown = login(app.test_client(), "nobody@example.ru", PASSWORD)
    assert problem(wrong, 401)["code"] == "bad_credentials"
    assert wrong.get_json() == unknown.get_json()
    assert wrong.headers.get("Content-Type") == unknown.headers.get("Content-Type")


def test_a_failed_login_leaves_the_session_signed_out(app: Flask, anna) -> None:
    device = app.test_client()
    login(device, EMAIL, "not the password")
    assert who(device) is None


# --- the account ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "data"), [("get", None), ("patch", {"name": "Кто-то"}), ("post", None)]
)
def test_the_account_needs_a_sign_in(client: FlaskClient, method: str, data) -> None:
    if method == "post":
        response = change_password(client, PASSWORD, NEW_PASSWORD)
    else:
        response = getattr(client, method)(ACCOUNT, json=data)
    assert problem(response, 401)["code"] == "not_signed_in"


def test_patch_sets_and_clears_phone_and_address(app: Flask, anna) -> None:
    changes = {"phone": "+7 900 123-45-67", "address": "Москва, Арбат, 1"}
    response = anna.patch(ACCOUNT, json=changes)
    assert response.status_code == 200
    assert response.get_json() == {**ANNA, **changes}
    assert signed_in(app).get(ACCOUNT).get_json() == {**ANNA, **changes}

    response = anna.patch(ACCOUNT, json={"name": "Анна Петрова"})
    assert response.get_json() == {**ANNA, **changes, "name": "Анна Петрова"}

    response = anna.patch(ACCOUNT, json={"phone": None, "address": None})
    assert response.get_json() == {**ANNA, "name": "Анна Петрова"}
    assert anna.get(ACCOUNT).get_json() == {**ANNA, "name": "Анна Петрова"}


@pytest.mark.parametrize(
    ("data", "field"), [({"phone": "call me"}, "phone"), ({"address": "1"}, "address")]
)
def test_a_bad_profile_field_is_422_and_changes_nothing(anna, data, field: str) -> None:
    assert ["body", field] in error_locs(anna.patch(ACCOUNT, json=data))
    assert anna.get(ACCOUNT).get_json() == ANNA


# --- logout and copied cookies --------------------------------------------------------------


def test_logout_signs_out_and_leaves_an_empty_guest_cart(anna, goods) -> None:
    add(anna, goods["lamp"], 2)
    response = logout(anna)
    assert response.status_code == 204
    assert who(anna) is None
    assert body(anna.get(CART)) == EMPTY_CART
    # The cart stayed with Anna's account.
    assert login(anna).status_code == 200
    assert lines(anna) == [(goods["lamp"], 2)]


def test_logout_without_a_sign_in_is_204(client: FlaskClient) -> None:
    assert logout(client).status_code == 204
    assert who(client) is None


def test_a_copy_of_the_cookie_stops_working_after_logout(app: Flask, anna, goods) -> None:
    add(anna, goods["lamp"], 1)
    copy = cookie(anna)
    assert who(with_cookie(app, copy)) == EMAIL  # a copy works while the sign-in lasts
    logout(anna)
    thief = with_cookie(app, copy)
    assert who(thief) is None
    assert body(thief.get(CART)) == EMPTY_CART


def test_login_starts_a_fresh_session(app: Flask, client: FlaskClient, goods) -> None:
    """The guest's cookie from before the sign-in neither signs in nor holds the cart."""
    assert register(app.test_client()).status_code == 201
    add(client, goods["pen"], 3)
    guest_cookie = cookie(client)
    assert login(client).status_code == 200
    assert cookie(client) != guest_cookie
    planted = with_cookie(app, guest_cookie)
    assert who(planted) is None
    assert body(planted.get(CART)) == EMPTY_CART
    assert lines(client) == [(goods["pen"], 3)]


def test_signing_in_again_ends_the_previous_sign_in(app: Flask, anna) -> None:
    first = cookie(anna)
    assert login(anna).status_code == 200
    assert who(with_cookie(app, first)) is None
    assert who(anna) == EMAIL


# --- password change ------------------------------------------------------------------------


def test_a_password_change_signs_out_the_other_devices(app: Flask, anna, goods) -> None:
    add(anna, goods["lamp"], 1)
    phone = signed_in(app)
    phone_cookie = cookie(phone)
    assert change_password(anna, PASSWORD, NEW_PASSWORD).status_code == 204
    assert who(anna) == EMAIL
    assert lines(anna) == [(goods["lamp"], 1)]
    assert who(phone) is None
    assert body(phone.get(CART)) == EMPTY_CART
    assert who(with_cookie(app, phone_cookie)) is None
    assert login(app.test_client(), EMAIL, PASSWORD).status_code == 401
    assert login(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_is_422_and_changes_nothing(app: Flask, anna) -> None:
    phone = signed_in(app)
    response = change_password(anna, "not the password", NEW_PASSWORD)
    assert error_locs(response) == [["body", "current_password"]]
    assert who(phone) == EMAIL
    assert login(app.test_client(), EMAIL, PASSWORD).status_code == 200
    assert login(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 401


@pytest.mark.parametrize("new", ["short", EMAIL.upper()])
def test_a_bad_new_password_is_refused_on_change(app: Flask, anna, new: str) -> None:
    assert ["body", "new_password"] in error_locs(change_password(anna, PASSWORD, new))
    assert login(app.test_client(), EMAIL, PASSWORD).status_code == 200


# --- password reset -------------------------------------------------------------------------


def test_a_reset_request_answers_the_same_for_any_email(app: Flask, anna) -> None:
    unknown = request_reset(app.test_client(), "nobody@example.ru")
    known = request_reset(app.test_client(), "ANNA@example.ru")
    assert unknown.status_code == known.status_code == 202
    assert unknown.get_json() == known.get_json()
    rows = sql(app, "SELECT kind, recipient FROM outbox")
    assert [(row.kind, row.recipient) for row in rows] == [("password_reset", EMAIL)]


def test_the_mailed_token_sets_a_new_password_once(app: Flask, anna) -> None:
    phone = signed_in(app)
    stranger = app.test_client()
    assert request_reset(stranger).status_code == 202
    (token,) = reset_tokens(app)
    assert confirm_reset(stranger, token).status_code == 204
    assert who(stranger) is None  # it does not sign in
    assert who(anna) is None and who(phone) is None  # every session is signed out
    assert login(app.test_client(), EMAIL, PASSWORD).status_code == 401
    assert login(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 200

    again = confirm_reset(stranger, token, "yet another one")
    assert problem(again, 422)["code"] == "invalid_token"
    assert login(app.test_client(), EMAIL, "yet another one").status_code == 401


@pytest.mark.parametrize("forged", ["x" * 43, "forged", "a" * 200])
def test_a_forged_token_is_422(app: Flask, anna, forged: str) -> None:
    request_reset(app.test_client())
    assert problem(confirm_reset(app.test_client(), forged), 422)["code"] == "invalid_token"
    assert who(anna) == EMAIL


def test_a_newer_request_voids_the_older_link(app: Flask, anna) -> None:
    request_reset(app.test_client())
    request_reset(app.test_client())
    older, newer = reset_tokens(app)
    assert problem(confirm_reset(app.test_client(), older), 422)["code"] == "invalid_token"
    assert confirm_reset(app.test_client(), newer).status_code == 204


def test_a_password_change_voids_the_link(app: Flask, anna) -> None:
    request_reset(app.test_client())
    (token,) = reset_tokens(app)
    assert change_password(anna, PASSWORD, NEW_PASSWORD).status_code == 204
    assert problem(confirm_reset(app.test_client(), token), 422)["code"] == "invalid_token"


def test_an_expired_link_is_422(app: Flask, anna) -> None:
    request_reset(app.test_client())
    (token,) = reset_tokens(app)
    past = datetime.now(UTC) - timedelta(hours=1, seconds=1)
    with app.app_context():
        resets = update(PasswordReset.__table__)
        db.session.execute(resets.values(created_at=past, expires_at=past + timedelta(hours=1)))
        db.session.commit()
    assert problem(confirm_reset(app.test_client(), token), 422)["code"] == "invalid_token"
    assert login(app.test_client(), EMAIL, PASSWORD).status_code == 200


def test_a_link_is_valid_for_an_hour(app: Flask, anna) -> None:
    request_reset(app.test_client())
    (row,) = sql(app, "SELECT created_at, expires_at FROM password_resets")
    created, expires = (
        value if isinstance(value, datetime) else datetime.fromisoformat(value) for value in row
    )
    assert expires - created == timedelta(hours=1)


def test_a_bad_new_password_leaves_the_link_usable(app: Flask, anna) -> None:
    request_reset(app.test_client())
    (token,) = reset_tokens(app)
    assert ["body", "password"] in error_locs(confirm_reset(app.test_client(), token, EMAIL))
    assert confirm_reset(app.test_client(), token).status_code == 204


# --- the cart and orders at sign-in ---------------------------------------------------------


def test_the_guest_cart_joins_the_customers_within_the_limits(
    app: Flask, client: FlaskClient, anna, goods
) -> None:
    gone = create_product(client, name="Раскупленный", price=10, stock=3)["id"]
    add(anna, goods["lamp"], 3)
    add(anna, goods["mug"], 60)
    assert logout(anna).status_code == 204

    guest = app.test_client()
    add(guest, goods["lamp"], 4)
    add(guest, goods["mug"], 50)
    add(guest, goods["pen"], 2)
    add(guest, gone, 1)
    patched = guest.patch(f"/api/products/{gone}/", json={"stock": 0}, headers=AUTH)
    assert patched.status_code == 200
    assert login(guest).status_code == 200

    expected = {goods["lamp"]: 5, goods["mug"]: 99, goods["pen"]: 2}  # stock 5, MAX 99
    assert dict(lines(guest)) == expected
    assert dict(lines(signed_in(app))) == expected  # the same cart on a second device


def test_registering_keeps_the_guest_cart(client: FlaskClient, goods) -> None:
    add(client, goods["pen"], 2)
    assert register(client).status_code == 201
    assert lines(client) == [(goods["pen"], 2)]


def test_the_cart_is_shared_by_the_customers_devices(app: Flask, anna, goods) -> None:
    phone = signed_in(app)
    add(phone, goods["pen"], 4)
    assert lines(anna) == [(goods["pen"], 4)]
    anna.delete(CART)
    assert lines(phone) == []


@pytest.fixture
def few_lines(database_url: str):
    """An app whose carts hold at most two lines (tables emptied by `app` afterwards)."""
    made = make_app(database_url, MAX_CART_LINES=2)
    yield made
    with made.app_context():
        db.session.remove()
        db.engine.dispose()


def test_lines_past_max_cart_lines_are_left_out(app: Flask, few_lines: Flask, goods) -> None:
    customer = few_lines.test_client()
    assert register(customer).status_code == 201
    add(customer, goods["lamp"], 1)
    logout(customer)
    guest = few_lines.test_client()
    for product in ("lamp", "mug", "pen"):
        add(guest, goods[product], 1)
    assert login(guest).status_code == 200
    assert lines(guest) == [(goods["lamp"], 2), (goods["mug"], 1)]


def place_order(client: FlaskClient, product_id: int, price: int) -> str:
    """Put one unit in the cart and check out by pickup; the order's number."""
    add(client, product_id, 1)
    response = client.post("/api/checkout/", json=details(price, email=EMAIL))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["number"]


def test_guest_orders_of_the_session_become_the_customers(app: Flask, anna, goods) -> None:
    logout(anna)
    guest = app.test_client()
    number = place_order(guest, goods["pen"], 50)
    other_guest = app.test_client()
    other_number = place_order(other_guest, goods["pen"], 50)
    assert login(guest).status_code == 200
    assert order_numbers(guest) == [number]
    assert order_numbers(signed_in(app)) == [number]
    assert logout(guest).status_code == 204
    assert order_numbers(guest) == []
    assert order_numbers(other_guest) == [other_number]


def test_an_order_placed_while_signed_in_is_the_customers(app: Flask, anna, goods) -> None:
    number = place_order(anna, goods["lamp"], 1200)
    assert order_numbers(signed_in(app)) == [number]
    assert order_numbers(app.test_client()) == []
    logout(anna)
    assert order_numbers(anna) == []


# --- cross-site requests --------------------------------------------------------------------

FOREIGN = {"Origin": "https://evil.example"}


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("patch", "", {"name": "Злоумышленник"}),
        ("post", "logout/", {}),
        ("post", "password/", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("post", "login/", {"email": EMAIL, "password": PASSWORD}),
    ],
)
def test_writes_from_a_foreign_origin_are_403(
    app: Flask, anna, method: str, path: str, data: dict[str, Any]
) -> None:
    response = getattr(anna, method)(f"{ACCOUNT}{path}", json=data, headers=FOREIGN)
    problem(response, 403)
    assert anna.get(ACCOUNT).get_json() == ANNA
    assert login(app.test_client(), EMAIL, PASSWORD).status_code == 200


def test_a_listed_origin_may_write(anna) -> None:
    response = anna.patch(
        ACCOUNT, json={"name": "Аня"}, headers={"Origin": "http://localhost:3000"}
    )
    assert response.status_code == 200 and response.get_json()["name"] == "Аня"


# --- two sign-ins of one guest at once ------------------------------------------------------


def test_two_parallel_sign_ins_of_one_guest_merge_once(
    app: Flask, backend: str, anna, goods
) -> None:
    """Two tabs of one guest sign in at the same moment: each line is merged exactly once.

    Each request waits for the other just before the merge's first statement (a listener on
    the real engine, nothing replaced), so both merges run at the same time every run.
    """
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: there is no race to lose")
    add(anna, goods["lamp"], 1)
    logout(anna)
    guest = app.test_client()
    add(guest, goods["lamp"], 2)
    add(guest, goods["mug"], 3)
    tabs = [with_cookie(app, cookie(guest)) for _ in range(2)]
    together = threading.Barrier(len(tabs))
    answers: list[int] = []

    def meet(conn, cursor, statement: str, *args: Any) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO carts (token, customer_id)"):
            # A broken barrier: the other request never got here, and its answer tells why.
            with contextlib.suppress(threading.BrokenBarrierError):
                together.wait(timeout=10)

    def sign_in(tab: FlaskClient) -> None:
        answers.append(login(tab).status_code)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", meet)
    try:
        threads = [threading.Thread(target=sign_in, args=(tab,)) for tab in tabs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        event.remove(engine, "before_cursor_execute", meet)
    assert answers == [200, 200]
    assert sorted(lines(signed_in(app))) == sorted([(goods["lamp"], 3), (goods["mug"], 3)])
    assert sql(app, "SELECT count(*) AS n FROM carts")[0].n == 1
