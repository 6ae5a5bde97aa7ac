"""Settings read from the environment (and `.env`), with development defaults."""

from __future__ import annotations

import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .filters import DEFAULT_COUNT_CAP

ROOT = Path(__file__).resolve().parent.parent
# The session cookie, which carries the cart token (and is the API's `cartSession` scheme).
SESSION_COOKIE_NAME = "storefront_session"


class ConfigError(RuntimeError):
    """The environment asks for something the app cannot run with."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def _money(name: str, default: str) -> Decimal:
    raw = os.environ.get(name, "").strip() or default
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ConfigError(f"{name} must be an amount such as 300 or 299.90, got {raw!r}") from exc
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise ConfigError(f"{name} must be an amount of at least 0 with at most 2 decimals")
    return value


def _text(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def normalise_database_url(url: str) -> str:
    """Point bare `postgres://`/`postgresql://` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


MIN_SECRET_KEY_LENGTH = 32
POOLERS = ("", "pgbouncer")
# Values that come from examples and tutorials, not from a random generator (case-insensitive
# substrings): a key holding one of them was typed by a person, whatever its length.
PLACEHOLDER_MARKERS = (
    "change",
    "secret",
    "example",
    "placeholder",
    "password",
    "default",
    "insecure",
    "not-for-production",
)
MIN_DISTINCT_CHARACTERS = 10
GENERATE_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def _secret_key(env: str, instance_path: Path) -> str:
    """Return SECRET_KEY; development makes one and keeps it under instance/."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    if env != "development":
        raise ConfigError(
            "SECRET_KEY is not set. Outside development it signs the session cookies that "
            "carry the shoppers' carts, so it must be a long random value shared by every "
            f"instance: SECRET_KEY=$({GENERATE_KEY})"
        )
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def weak_secret_key_reason(key: str) -> str | None:
    """Why `key` is too weak to sign production sessions, or None when it is strong enough.

    The reason never quotes the key (it ends up in logs and terminals).
    """
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"it is {len(key)} characters long; at least {MIN_SECRET_KEY_LENGTH} are needed"
    lowered = key.lower()
    marker = next((m for m in PLACEHOLDER_MARKERS if m in lowered), None)
    if marker:
        return f"it contains {marker!r}, so it is a placeholder, not a random value"
    if len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return f"it uses fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    return None


def weak_keys_allowed(settings: dict[str, object]) -> bool:
    """Development, and the test suite, may sign sessions with any key.

    `testing` counts only together with `TESTING=True`, which only code can set (the test
    suite's `create_app` overrides): `STOREFRONT_ENV=testing` in an environment alone is held
    to the production rule, so it is no way around it. Any other value (`production`,
    `staging`, a typo) is held to the production rule too.
    """
    env = settings.get("STOREFRONT_ENV")
    return env == "development" or (env == "testing" and bool(settings.get("TESTING")))


def check_secret_key(settings: dict[str, object]) -> None:
    """Refuse a guessable SECRET_KEY outside development, saying why and how to make one."""
    if weak_keys_allowed(settings):
        return
    reason = weak_secret_key_reason(str(settings["SECRET_KEY"]))
    if reason:
        raise ConfigError(
            f"SECRET_KEY is too weak for STOREFRONT_ENV={settings.get('STOREFRONT_ENV')}: "
            f"{reason}. It signs the session cookies that carry the shoppers' carts and the "
            "CSRF tokens of the forms; whoever guesses it can forge both. Use a long random "
            f"value, the same on every instance: SECRET_KEY=$({GENERATE_KEY})"
        )


def load_settings(instance_path: Path, overrides: dict[str, object]) -> dict[str, object]:
    """Read every setting from the environment, then apply `overrides` (tests use those)."""
    env = str(overrides.get("STOREFRONT_ENV") or os.environ.get("STOREFRONT_ENV", "")).strip()
    env = env or "development"
    database_url = os.environ.get("DATABASE_URL", "").strip() or (
        f"sqlite:///{instance_path / 'storefront.sqlite3'}"
    )
    settings: dict[str, object] = {
        "STOREFRONT_ENV": env,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "STOREFRONT_ADMIN_TOKEN": os.environ.get("STOREFRONT_ADMIN_TOKEN", "").strip() or None,
        "CORS_ORIGINS": _list("CORS_ORIGINS"),
        "STORE_CURRENCY": os.environ.get("STORE_CURRENCY", "RUB").strip().upper() or "RUB",
        "MAX_LINE_QUANTITY": _int("MAX_LINE_QUANTITY", 99),
        "MAX_CART_LINES": _int("MAX_CART_LINES", 100),
        "COUNT_CAP": _int("COUNT_CAP", DEFAULT_COUNT_CAP),
        # Longest a process keeps a total or the category list; any catalog write made through
        # the app (any process) retires them at once (see storefront/catalog_version.py).
        "COUNT_CACHE_SECONDS": _int("COUNT_CACHE_SECONDS", 30),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        "MAX_BULK_BYTES": _int("MAX_BULK_BYTES", 32 * 1024 * 1024),
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "STATEMENT_TIMEOUT_MS": _int("STATEMENT_TIMEOUT_MS", 5000),
        # Each server thread keeps its read connection between requests (storefront/dbsession.py);
        # gunicorn.conf.py turns it on: its threads live as long as their worker.
        "READ_CONNECTION_PER_THREAD": _bool("READ_CONNECTION_PER_THREAD", False),
        "RATE_LIMITS": os.environ.get("RATE_LIMITS", "").strip(),
        # Where the rate limit counters live: each process's memory, or a Redis shared by all.
        "RATE_LIMIT_STORAGE_URI": os.environ.get("RATE_LIMIT_STORAGE_URI", "").strip()
        or "memory://",
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # "pgbouncer": connections go through PgBouncer in transaction mode (see docs/deploying.md).
        "DATABASE_POOLER": os.environ.get("DATABASE_POOLER", "").strip().lower(),
        # Checkout: the courier's fee, and the cart total from which courier delivery is free.
        "DELIVERY_FEE": _money("DELIVERY_FEE", "300"),
        "FREE_DELIVERY_FROM": _money("FREE_DELIVERY_FROM", "5000"),
        # Bank details shown on the order page and in the mail of an order paid by invoice.
        "SHOP_PAYMENT_DETAILS": _text("SHOP_PAYMENT_DETAILS"),
        # Mail: where order mails to the shop go (none when empty), the site's address for links
        # in mails, the SMTP server (empty: .eml files under instance/mail/) and the sender.
        "SHOP_EMAIL": _text("SHOP_EMAIL") or None,
        "SHOP_BASE_URL": _text("SHOP_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "MAIL_URL": _text("MAIL_URL") or None,
        "MAIL_FROM": _text("MAIL_FROM", "Storefront <shop@localhost>"),
        # Times shown to shoppers (order pages, mails) are in the shop's time zone.
        "BABEL_DEFAULT_TIMEZONE": _text("SHOP_TIMEZONE", "Europe/Moscow"),
    }
    settings.update(overrides)
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = _secret_key(env, instance_path)
    check_secret_key(settings)
    settings["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        str(settings["SQLALCHEMY_DATABASE_URI"])
    )
    if settings["DATABASE_POOLER"] not in POOLERS:
        raise ConfigError(
            f"DATABASE_POOLER must be empty (a direct connection) or one of "
            f"{', '.join(p for p in POOLERS if p)}, not {settings['DATABASE_POOLER']!r}"
        )
    if not 1 <= int(settings["MAX_LINE_QUANTITY"]) <= 99:  # type: ignore[call-overload]
        raise ConfigError("MAX_LINE_QUANTITY must be from 1 to 99 (the schema allows 99)")
    return settings
