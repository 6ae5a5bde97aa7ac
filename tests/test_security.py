"""Security headers, SECRET_KEY refusals, the admin token check, request ids and what logs hold."""

from __future__ import annotations

import json
import logging
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from storefront import create_app
from storefront.config import ConfigError
from storefront.logs import JsonFormatter
from storefront.security import API_POLICY, DOCS_POLICY, PAGE_POLICY
from tests.conftest import ADMIN_TOKEN, make_app

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = secrets.token_urlsafe(48)
HEX32 = re.compile(r"[0-9a-f]{32}")

# (method, path, request options): one of every kind of answer the app gives.
ANSWERS = {
    "catalog page": ("GET", "/", {}),
    "cart page": ("GET", "/cart", {}),
    "missing product page": ("GET", "/products/999999", {}),
    "404 page": ("GET", "/no/such/page", {}),
    "405 page": ("DELETE", "/cart", {}),
    "CSRF failure page": ("POST", "/cart/add", {"data": {"product_id": "1"}}),
    "static file": ("GET", "/static/css/storefront.css", {}),
    "healthz": ("GET", "/healthz", {}),
    "API list": ("GET", "/api/products/", {}),
    "API 404 problem": ("GET", "/api/products/999999/", {}),
    "API unknown path": ("GET", "/api/nothing-here", {}),
    "API 405 problem": ("DELETE", "/api/categories/", {}),
    "API 415 problem": ("POST", "/api/cart/", {"data": "x", "content_type": "text/plain"}),
    "API 422 problem": ("POST", "/api/cart/", {"json": {"product_id": "one"}}),
    "API 401 problem": ("POST", "/api/products/", {"json": {}}),
    "OpenAPI document": ("GET", "/api/openapi.json", {}),
    "Swagger UI": ("GET", "/api/docs", {}),
    "CORS preflight": (
        "OPTIONS",
        "/api/cart/",
        {
            "headers": {
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
            }
        },
    ),
}


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header as {directive: sources}."""
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def send(client: FlaskClient, method: str, path: str, options: dict) -> object:
    return client.open(path, method=method, **options)


@pytest.fixture
def fresh_app(database_url: str) -> Flask:
    """An app that has served nothing yet, with routes that log and fail for the tests."""
    app = make_app(database_url)
    log = logging.getLogger("storefront.tests")

    def note() -> str:
        log.warning("a note from the view")
        return "noted"

    def boom() -> str:
        raise RuntimeError("kaboom-detail")

    app.add_url_rule("/test-note", "test_note", note)
    app.add_url_rule("/test-boom", "test_boom", boom)
    app.add_url_rule("/api/test-boom", "api_test_boom", boom)
    return app


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_every_answer_carries_the_security_headers(client: FlaskClient, kind: str) -> None:
    method, path, options = ANSWERS[kind]
    response = send(client, method, path, options)
    headers = response.headers
    policy = directives(headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["object-src"] == ["'none'"]
    scripts = policy.get("script-src", policy["default-src"])
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert "'unsafe-inline'" not in policy.get("style-src", [])
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert HEX32.fullmatch(headers["X-Request-ID"])
    assert "Strict-Transport-Security" not in headers


@pytest.mark.parametrize("kind", ["500 page", "500 problem"])
def test_unexpected_errors_carry_the_headers_too(fresh_app: Flask, kind: str) -> None:
    path = "/test-boom" if kind == "500 page" else "/api/test-boom"
    response = fresh_app.test_client().get(path)
    assert response.status_code == 500
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert HEX32.fullmatch(response.headers["X-Request-ID"])
    assert "kaboom-detail" not in response.get_data(as_text=True)


def test_policies_by_kind_of_answer(client: FlaskClient) -> None:
    assert client.get("/").headers["Content-Security-Policy"] == PAGE_POLICY
    assert client.get("/static/favicon.svg").headers["Content-Security-Policy"] == PAGE_POLICY
    assert client.get("/api/products/").headers["Content-Security-Policy"] == API_POLICY
    assert client.get("/api/nope").headers["Content-Security-Policy"] == API_POLICY
    for path in ("/api/docs", "/api/docs/"):
        # The Swagger UI's own policy, and only it: not a second one added on the way out.
        assert client.get(path).headers.getlist("Content-Security-Policy") == [DOCS_POLICY]


@pytest.mark.parametrize("path", ["/", "/api/products/", "/api/docs/", "/static/favicon.svg"])
def test_each_header_is_sent_once(client: FlaskClient, path: str) -> None:
    headers = client.get(path, headers={"X-Request-ID": "req-7"}).headers
    for name in (
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "X-Frame-Options",
        "Cross-Origin-Opener-Policy",
        "X-Request-ID",
    ):
        assert len(headers.getlist(name)) == 1, name
    assert headers["X-Request-ID"] == "req-7"


def test_page_policy_allows_only_our_scripts_and_styles() -> None:
    policy = directives(PAGE_POLICY)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    # Product images may be absolute http(s) URLs (the contract allows them).
    assert set(policy["img-src"]) == {"'self'", "https:", "http:"}


def test_docs_policy_adds_only_data_images() -> None:
    """Swagger UI needs no inline script (its set-up is a static file) and no inline style."""
    docs, page = directives(DOCS_POLICY), directives(PAGE_POLICY)
    assert docs["script-src"] == ["'self'"]
    assert docs["style-src"] == ["'self'"]
    assert docs["img-src"] == ["'self'", "data:"]  # the icons inside swagger-ui.css
    assert {k: v for k, v in docs.items() if k != "img-src"} == {
        k: v for k, v in page.items() if k != "img-src"
    }


def test_json_answers_may_load_nothing() -> None:
    policy = directives(API_POLICY)
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


@pytest.mark.parametrize(
    "path", ["/", "/?search=мышь&min_price=abc", "/products/1", "/cart", "/nope", "/api/docs"]
)
def test_pages_hold_nothing_the_policy_blocks(
    client: FlaskClient, demo: dict[str, int], path: str
) -> None:
    """No inline script, no event-handler attribute, no style attribute or element."""
    client.post("/api/cart/", json={"product_id": demo["Беспроводная мышь"]})
    html = client.get(path).get_data(as_text=True)
    assert SCRIPT_TAG.findall(html), "expected the page's script tags"
    assert all("src=" in attributes for attributes in SCRIPT_TAG.findall(html))
    assert not INLINE_HANDLER.search(html)
    assert not STYLE_ATTRIBUTE.search(html)
    assert "<style" not in html.lower()
    assert "javascript:" not in html.lower()


def test_htmx_is_told_not_to_inject_styles_or_eval(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    match = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert match
    config = json.loads(match[1])
    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False
    # Its settle step re-sets these with setAttribute: a style set so is blocked (test_csp.py).
    assert "style" not in config["attributesToSettle"]


@pytest.mark.parametrize("path", ["/", "/api/products/", "/no/such/page", "/static/favicon.svg"])
def test_hsts_when_https_is_configured(database_url: str, path: str) -> None:
    """SESSION_COOKIE_SECURE (the site runs on HTTPS) turns HSTS on for every answer."""
    client = make_app(database_url, SESSION_COOKIE_SECURE=True).test_client()
    assert client.get(path).headers["Strict-Transport-Security"] == "max-age=31536000"


def test_no_hsts_over_plain_http(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/").headers


# --- SECRET_KEY ----------------------------------------------------------------------------


def app_with(tmp_path: Path, **settings: object) -> Flask:
    """create_app with `settings` over a throwaway SQLite file (no database is touched)."""
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}", **settings}
    )


@pytest.fixture
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the environment nor a .env file provides a key or an environment name."""
    monkeypatch.setenv("SECRET_KEY", "")
    monkeypatch.setenv("STOREFRONT_ENV", "")


@pytest.mark.usefixtures("no_env_key")
def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is not set") as error:
        app_with(tmp_path, STOREFRONT_ENV="production")
    assert "secrets.token_urlsafe" in str(error.value)


@pytest.mark.usefixtures("no_env_key")
@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("short-but-random-Zq8x", "21 characters long; at least 32"),
        ("change-me-change-me-change-me-change-me", "placeholder"),
        ("my-very-own-production-secret-key-2024", "placeholder"),
        ("test-secret-key-not-for-production", "placeholder"),
        ("a" * 64, "fewer than 10 different characters"),
        ("0101010101010101010101010101010101010101", "fewer than 10 different characters"),
    ],
)
def test_production_refuses_a_weak_key_and_says_why(tmp_path: Path, key: str, why: str) -> None:
    with pytest.raises(ConfigError) as error:
        app_with(tmp_path, STOREFRONT_ENV="production", SECRET_KEY=key)
    message = str(error.value)
    assert why in message
    assert "signs the session cookies" in message  # why it matters
    assert "secrets.token_urlsafe(48)" in message  # how to make a good one
    assert key not in message  # the key itself never reaches a log


@pytest.mark.usefixtures("no_env_key")
def test_a_weak_key_from_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOREFRONT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "hunter2")
    with pytest.raises(ConfigError, match="7 characters long"):
        app_with(tmp_path)


@pytest.mark.usefixtures("no_env_key")
@pytest.mark.parametrize("env", ["production", "staging", "prod"])
def test_a_strong_key_starts_anywhere(tmp_path: Path, env: str) -> None:
    app = app_with(tmp_path, STOREFRONT_ENV=env, SECRET_KEY=STRONG_KEY)
    assert app.secret_key == STRONG_KEY


@pytest.mark.usefixtures("no_env_key")
@pytest.mark.parametrize("env", ["staging", "prod", "testing"])
def test_every_other_environment_is_held_to_the_production_rule(tmp_path: Path, env: str) -> None:
    """`testing` set from outside (without the suite's TESTING=True) is no way around it."""
    with pytest.raises(ConfigError, match="too weak"):
        app_with(tmp_path, STOREFRONT_ENV=env, SECRET_KEY="weak")


@pytest.mark.usefixtures("no_env_key")
def test_development_and_the_test_suite_may_use_any_key(tmp_path: Path) -> None:
    assert app_with(tmp_path, STOREFRONT_ENV="development", SECRET_KEY="dev").secret_key == "dev"
    app = app_with(tmp_path, STOREFRONT_ENV="testing", TESTING=True, SECRET_KEY="weak")
    assert app.secret_key == "weak"


@pytest.mark.usefixtures("no_env_key")
def test_the_testing_environment_still_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        app_with(tmp_path, STOREFRONT_ENV="testing", TESTING=True)


# --- the admin token -----------------------------------------------------------------------


def test_admin_token_is_compared_in_constant_time(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storefront.api import auth

    compared: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    wrong = client.post("/api/products/", json={}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.post(
        "/api/products/", json={}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert right.status_code == 422
    assert compared == [(b"nope", ADMIN_TOKEN.encode()), (ADMIN_TOKEN.encode(),) * 2]


# --- request ids ---------------------------------------------------------------------------


def test_a_request_id_is_made_for_each_request(client: FlaskClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert HEX32.fullmatch(first) and HEX32.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "incoming",
    ["3f2b8c1e-9d4a-4b7e-8f00-123456789abc", "0af7651916cd43dd8448eb211c80319c", "Root=1-5e2a.x"],
)
def test_a_sane_incoming_request_id_is_kept(client: FlaskClient, incoming: str) -> None:
    response = client.get("/api/products/", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 129, "has space", 'quote"d', "semi;colon", "-leading-dash", "кириллица", "a\tb"],
)
def test_a_bad_incoming_request_id_is_replaced(client: FlaskClient, incoming: str) -> None:
    response = client.get("/", headers={"X-Request-ID": incoming})
    assert HEX32.fullmatch(response.headers["X-Request-ID"])


def test_log_records_carry_the_request_id(
    fresh_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = fresh_app.test_client()
    with caplog.at_level(logging.INFO):
        response = client.get("/test-note", headers={"X-Request-ID": "req-42"})
        failed = client.get("/test-boom")
    assert response.headers["X-Request-ID"] == "req-42"
    note = next(r for r in caplog.records if r.getMessage() == "a note from the view")
    assert note.request_id == "req-42"
    crash = next(r for r in caplog.records if r.name == "storefront.errors")
    assert crash.request_id == failed.headers["X-Request-ID"]
    assert crash.exc_info

    line = json.loads(JsonFormatter().format(note))
    assert line["request_id"] == "req-42"
    assert line["level"] == "WARNING"
    assert line["logger"] == "storefront.tests"
    assert line["message"] == "a note from the view"
    assert "exception" in json.loads(JsonFormatter().format(crash))


def test_records_outside_a_request_have_no_request_id(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("storefront.tests").info("no request here")
    record = caplog.records[-1]
    assert record.request_id is None
    assert "request_id" not in json.loads(JsonFormatter().format(record))


def test_production_logs_json_when_nothing_else_configured_logging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env_key: None
) -> None:
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    app_with(tmp_path, STOREFRONT_ENV="production", SECRET_KEY=STRONG_KEY)
    (handler,) = logging.root.handlers
    assert isinstance(handler.formatter, JsonFormatter)


# --- no secrets in logs or in the repository -----------------------------------------------


def test_no_secret_reaches_the_logs(
    database_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caplog.at_level(logging.DEBUG):
        app = make_app(database_url, STOREFRONT_ENV="production", SECRET_KEY=STRONG_KEY)
        app.add_url_rule("/test-boom", "test_boom", lambda: 1 / 0)
        client = app.test_client()
        client.get("/")
        client.post("/cart/add", data={"product_id": "1"})  # CSRF failure is logged
        client.get("/test-boom")  # a logged traceback
        for token in (ADMIN_TOKEN, ADMIN_TOKEN[:-1], "wrong"):
            client.post("/api/products/", json={}, headers={"Authorization": f"Bearer {token}"})
        client.get("/api/products/", headers={"Cookie": f"storefront_session={STRONG_KEY}"})
    assert caplog.records, "expected something to be logged"
    text = caplog.text + "".join(JsonFormatter().format(r) for r in caplog.records)
    assert STRONG_KEY not in text
    assert ADMIN_TOKEN[:-1] not in text


def test_the_repository_holds_no_secret_files() -> None:
    try:
        tracked = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert ".env" not in tracked
    assert not [path for path in tracked if path.startswith("instance/")]
    assert not [path for path in tracked if re.search(r"\.(pem|key|p12)$|secret_key$", path)]
