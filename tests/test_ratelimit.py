"""Rate limits: cart writes per cart (else address), admin writes per token, addresses via ProxyFix.

Every test sets small limits (3 a minute) on a fresh app: each app counts in its own memory, and
a fixed window starts at its first hit, so nothing here waits for a clock or a window's end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.middleware.proxy_fix import ProxyFix

from storefront.config import ConfigError
from storefront.ratelimit import DEFAULT_LIMITS, EXTENSION, parse_rate_limits
from tests.conftest import ADMIN_TOKEN, empty_tables, make_app
from tests.factories import AUTH, create_product
from tests.web.conftest import csrf_token, htmx

SMALL = "cart=3/minute;admin=3/minute"
PROBLEM = "application/problem+json"

MakeLimited = Callable[..., Flask]


@pytest.fixture
def limited(database_url: str) -> Iterator[MakeLimited]:
    """Makes apps with RATE_LIMITS=SMALL (or what is given); their tables are emptied after."""

    def make(rate_limits: str = SMALL, **overrides: object) -> Flask:
        return make_app(database_url, RATE_LIMITS=rate_limits, **overrides)

    yield make
    empty_tables(database_url)


def at(address: str) -> dict[str, dict[str, str]]:
    """Request arguments that make the request come from `address` (the socket's peer)."""
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_too_many(response) -> None:
    """A 429 problem+json that says when to come back."""
    assert response.status_code == 429
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["Cache-Control"] == "no-store"


def start_cart(client: FlaskClient, product_id: int, **kwargs) -> None:
    """The session's first add: it makes the cart token (and counts against the address)."""
    assert client.post("/api/cart/", json={"product_id": product_id}, **kwargs).status_code == 201


# --- RATE_LIMITS -----------------------------------------------------------------------------


def test_defaults_when_unset() -> None:
    assert (
        parse_rate_limits("")
        == DEFAULT_LIMITS
        == {
            "cart": "120/minute",
            "admin": "600/minute",
            "login": "10/minute",
            "login_address": "60/minute",
        }
    )


LOGIN_DEFAULTS = {"login": "10/minute", "login_address": "60/minute"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", {}),
        (" OFF ", {}),
        ("cart=10/minute", {"cart": "10/minute", "admin": "600/minute", **LOGIN_DEFAULTS}),
        (
            "cart=5/second,100/hour; admin=off; login=off",
            {"cart": "5/second,100/hour", "login_address": "60/minute"},
        ),
        (
            "Admin = 20 per minute",
            {"cart": "120/minute", "admin": "20 per minute", **LOGIN_DEFAULTS},
        ),
    ],
)
def test_rate_limits_syntax(text: str, expected: dict[str, str]) -> None:
    assert parse_rate_limits(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("cart=lots", "'lots' \\(cart\\) is not a limit"),
        ("cart=10/fortnight", "is not a limit"),
        ("cart=", "is not a limit"),
        ("basket=10/minute", "known group"),
        ("120/minute", "known group"),
        ("cart=0/minute", "allows nothing; use cart=off"),
        ("cart=1/minute;cart=2/minute", "cart is given twice"),
    ],
)
def test_a_bad_value_refuses_to_start(limited: MakeLimited, text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=f"^RATE_LIMITS: .*{why}") as caught:
        limited(text)
    assert 'e.g. RATE_LIMITS="cart=120/minute;admin=600/minute"' in str(caught.value)


def test_an_unusable_storage_refuses_to_start_without_showing_the_uri(
    limited: MakeLimited,
) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT_STORAGE_URI \\(nosuch://…\\)") as caught:
        limited(RATE_LIMIT_STORAGE_URI="nosuch://:hunter2@cache:6379")
    assert "hunter2" not in str(caught.value)


def test_a_negative_number_of_proxies_refuses_to_start(limited: MakeLimited) -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES must be 0 or more"):
        limited(TRUSTED_PROXIES=-1)


# --- cart writes -----------------------------------------------------------------------------


def test_over_the_limit_is_429_problem_json_with_retry_after(limited: MakeLimited) -> None:
    client = limited().test_client()
    product = create_product(client)
    start_cart(client, product["id"])
    for _ in range(3):
        assert client.post("/api/cart/", json={"product_id": product["id"]}).status_code == 201
    refused = client.post("/api/cart/", json={"product_id": product["id"]})
    assert_too_many(refused)
    # The refused add changed nothing, and every kind of cart write shares the one budget.
    assert client.get("/api/cart/").get_json()["total_quantity"] == 4
    assert_too_many(client.delete("/api/cart/"))
    assert_too_many(client.put("/api/cart/1/", json={"quantity": 2}))


def test_two_carts_have_their_own_budgets(limited: MakeLimited) -> None:
    app = limited()
    first, second = app.test_client(), app.test_client()
    product = create_product(first)
    start_cart(first, product["id"])
    start_cart(second, product["id"])
    for _ in range(3):
        assert first.delete("/api/cart/").status_code == 200
    assert_too_many(first.delete("/api/cart/"))
    for _ in range(3):
        assert second.delete("/api/cart/").status_code == 200


def test_one_cart_from_two_addresses_shares_a_budget(limited: MakeLimited) -> None:
    client = limited().test_client()
    product = create_product(client)
    start_cart(client, product["id"], **at("198.51.100.1"))
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.1"):
        assert client.delete("/api/cart/", **at(address)).status_code == 200
    assert_too_many(client.delete("/api/cart/", **at("198.51.100.2")))


def test_without_a_cart_the_address_is_counted(limited: MakeLimited) -> None:
    app = limited()
    for _ in range(3):
        # A new client each time: no cookie, no cart token.
        assert app.test_client().delete("/api/cart/", **at("198.51.100.7")).status_code == 200
    assert_too_many(app.test_client().delete("/api/cart/", **at("198.51.100.7")))
    assert app.test_client().delete("/api/cart/", **at("198.51.100.8")).status_code == 200


# --- client addresses ------------------------------------------------------------------------


def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    limited: MakeLimited, caplog: pytest.LogCaptureFixture
) -> None:
    app = limited()
    assert not isinstance(app.wsgi_app, ProxyFix)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="storefront.ratelimit"):
        for n in range(3):
            forged = {"X-Forwarded-For": f"203.0.113.{n}"}
            assert client.delete("/api/cart/", headers=forged).status_code == 200
        assert_too_many(client.delete("/api/cart/", headers={"X-Forwarded-For": "203.0.113.9"}))
    # The operator is told once that a proxy seems to be in front.
    warnings = [r for r in caplog.records if "TRUSTED_PROXIES=0" in r.getMessage()]
    assert len(warnings) == 1


def test_with_one_trusted_proxy_its_x_forwarded_for_is_the_client(limited: MakeLimited) -> None:
    app = limited(TRUSTED_PROXIES=1)
    client = app.test_client()
    for n in range(4):
        # The proxy appends the peer it saw: the last address is the client.
        headers = {"X-Forwarded-For": f"10.9.9.9, 203.0.113.{n}"}
        assert client.delete("/api/cart/", headers=headers).status_code == 200
    for _ in range(3):
        answer = client.delete("/api/cart/", headers={"X-Forwarded-For": "203.0.113.50"})
        assert answer.status_code == 200
    assert_too_many(client.delete("/api/cart/", headers={"X-Forwarded-For": "203.0.113.50"}))


def test_trusted_proxy_scheme_is_believed(limited: MakeLimited) -> None:
    client = limited(TRUSTED_PROXIES=1).test_client()
    # An Origin of the site's https address is its own once the proxy says the scheme is https.
    own = {"Origin": "https://localhost", "X-Forwarded-Proto": "https"}
    assert client.delete("/api/cart/", headers=own).status_code == 200
    assert limited().test_client().delete("/api/cart/", headers=own).status_code == 403


# --- admin writes ----------------------------------------------------------------------------


def test_admin_writes_are_counted_per_token_from_any_address(limited: MakeLimited) -> None:
    app = limited()
    client = app.test_client()
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert client.delete("/api/products/999/", headers=AUTH, **at(address)).status_code == 404
    assert_too_many(client.delete("/api/products/999/", headers=AUTH, **at("192.0.2.4")))
    # A wrong token is no identity: it is counted by address, apart from the admin's budget.
    wrong = {"Authorization": "Bearer guess"}
    for _ in range(3):
        answer = client.delete("/api/products/999/", headers=wrong, **at("192.0.2.5"))
        assert answer.status_code == 401
    assert_too_many(client.delete("/api/products/999/", headers=wrong, **at("192.0.2.5")))
    assert client.delete("/api/products/999/", headers=wrong, **at("192.0.2.6")).status_code == 401
    # The counters know the token only by a digest.
    keys = " ".join(app.extensions[EXTENSION]["limiter"].storage.storage)
    assert "admin:" in keys and ADMIN_TOKEN not in keys


def test_admin_and_cart_budgets_are_apart(limited: MakeLimited) -> None:
    client = limited("cart=3/minute;admin=1/minute").test_client()
    product = create_product(client)
    assert_too_many(client.post("/api/products/", json={}, headers=AUTH))
    start_cart(client, product["id"])
    assert client.delete("/api/cart/").status_code == 200


# --- off, reads, and the defaults ------------------------------------------------------------


def test_off_lets_everything_through(limited: MakeLimited) -> None:
    app = limited("off")
    assert app.extensions[EXTENSION]["limiter"] is None
    client = app.test_client()
    product = create_product(client)
    for _ in range(20):
        assert client.post("/api/cart/", json={"product_id": product["id"]}).status_code == 201
        assert client.delete("/api/products/999/", headers=AUTH).status_code == 404


def test_one_group_off(limited: MakeLimited) -> None:
    client = limited("cart=off;admin=1/minute").test_client()
    for _ in range(10):
        assert client.delete("/api/cart/").status_code == 200
    assert client.delete("/api/products/999/", headers=AUTH).status_code == 404
    assert_too_many(client.delete("/api/products/999/", headers=AUTH))


def test_reads_are_not_limited(limited: MakeLimited) -> None:
    client = limited("cart=1/minute;admin=1/minute").test_client()
    product = create_product(client)
    start_cart(client, product["id"])
    assert client.delete("/api/cart/").status_code == 200
    assert_too_many(client.delete("/api/cart/"))
    for path in ("/api/products/", f"/api/products/{product['id']}/", "/api/categories/"):
        for _ in range(5):
            assert client.get(path).status_code == 200
    for path in ("/api/cart/", "/", "/cart", f"/products/{product['id']}"):
        for _ in range(5):
            assert client.get(path).status_code == 200


def test_a_failing_counter_storage_lets_writes_through(
    limited: MakeLimited, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = limited("cart=1/minute")
    storage = app.extensions[EXTENSION]["limiter"].storage

    def unreachable(*_args: object, **_kwargs: object) -> int:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(storage, "incr", unreachable)
    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert client.delete("/api/cart/").status_code == 200
    assert "redis went away" in caplog.text


def test_the_test_suite_runs_with_the_generous_defaults(app: Flask) -> None:
    limiter = app.extensions[EXTENSION]["limiter"]
    assert limiter is not None
    assert app.config["RATE_LIMIT_STORAGE_URI"] == "memory://"


# --- pages -----------------------------------------------------------------------------------


def test_a_page_cart_write_over_the_limit_shows_the_friendly_page(limited: MakeLimited) -> None:
    client = limited().test_client()
    product = create_product(client)
    token = csrf_token(client)
    form = {"product_id": str(product["id"]), "csrf_token": token}
    # The first add makes the cart (counted by address); three more use up the cart's budget.
    for _ in range(4):
        assert client.post("/cart/add", data=form).status_code == 303
    refused = client.post("/cart/add", data=form)
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    html = refused.get_data(as_text=True)
    assert "Слишком много запросов" in html and "Подождите немного" in html
    assert "Too many requests" not in html  # the API's detail is not shown to shoppers


def test_an_htmx_cart_write_over_the_limit_gets_the_notice(limited: MakeLimited) -> None:
    client = limited().test_client()
    product = create_product(client)
    start_cart(client, product["id"])
    line = client.get("/api/cart/").get_json()["items"][0]["id"]
    form = {"quantity": "2", "csrf_token": csrf_token(client)}
    for _ in range(3):
        answer = client.post(f"/cart/items/{line}", data=form, headers=htmx("cart"))
        assert answer.status_code == 200
    refused = client.post(f"/cart/items/{line}", data=form, headers=htmx("cart"))
    assert refused.status_code == 429
    assert refused.headers["HX-Retarget"] == "#notice"
    assert "Подождите немного" in refused.get_data(as_text=True)
    assert "Retry-After" in refused.headers


# --- sign-in attempts ------------------------------------------------------------------------

LOGIN_SMALL = "login=3/minute;login_address=5/minute"


def log_in(client: FlaskClient, email: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/account/login/", json={"email": email, "password": password}, **at(address)
    )


def test_guessing_one_accounts_password_stops_at_the_limit_even_from_many_addresses(
    limited: MakeLimited,
) -> None:
    client = limited(LOGIN_SMALL).test_client()
    registered = client.post(
        "/api/account/register/",
        json={"email": "olga@example.com", "password": "correct horse 1"},
        **at("10.0.0.9"),
    )
    assert registered.status_code == 201  # one attempt of olga's three
    client.post("/api/account/logout/")
    assert log_in(client, "olga@example.com", "wrong guess 1", "10.0.0.1").status_code == 401
    assert log_in(client, "OLGA@Example.com", "wrong guess 2", "10.0.0.2").status_code == 401
    # The right password too is refused now: the budget belongs to the email, not the address.
    assert_too_many(log_in(client, "olga@example.com", "correct horse 1", "10.0.0.3"))
    # Another account from the same address is not held up by it.
    assert log_in(client, "ivan@example.com", "anything 12", "10.0.0.3").status_code == 401


def test_one_address_trying_many_emails_stops_at_the_address_limit(limited: MakeLimited) -> None:
    client = limited(LOGIN_SMALL).test_client()
    for n in range(5):
        assert log_in(client, f"user{n}@example.com", "password 123").status_code == 401
    assert_too_many(log_in(client, "user9@example.com", "password 123"))
    assert log_in(client, "user9@example.com", "password 123", "10.0.0.2").status_code == 401


def test_a_page_sign_in_over_the_limit_shows_the_friendly_page(limited: MakeLimited) -> None:
    client = limited(LOGIN_SMALL).test_client()
    form = {
        "email": "olga@example.com",
        "password": "wrong guess",
        "csrf_token": csrf_token(client),
    }
    for _ in range(3):
        answer = client.post("/account/login", data=form)
        assert "Неверный адрес почты или пароль." in answer.get_data(as_text=True)
    refused = client.post("/account/login", data=form)
    assert refused.status_code == 429
    assert "Подождите немного" in refused.get_data(as_text=True)
