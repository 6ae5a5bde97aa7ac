"""Settings read from the environment (and `.env`), with development defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def normalise_database_url(url: str) -> str:
    """Point bare `postgres://`/`postgresql://` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(env: str, instance_path: Path) -> str:
    """Return SECRET_KEY; development makes one and keeps it under instance/."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    if env != "development":
        raise ConfigError(
            "SECRET_KEY is not set. Outside development it signs the session cookies that "
            "carry the shoppers' carts, so it must be a long random value shared by every "
            "instance: SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


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
        "COUNT_CAP": _int("COUNT_CAP", 10_000),
        "COUNT_CACHE_SECONDS": _int("COUNT_CACHE_SECONDS", 30),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        "MAX_BULK_BYTES": _int("MAX_BULK_BYTES", 32 * 1024 * 1024),
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "STATEMENT_TIMEOUT_MS": _int("STATEMENT_TIMEOUT_MS", 5000),
        "RATE_LIMITS": os.environ.get("RATE_LIMITS", "").strip(),
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
    }
    settings.update(overrides)
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = _secret_key(env, instance_path)
    settings["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        str(settings["SQLALCHEMY_DATABASE_URI"])
    )
    if not 1 <= int(settings["MAX_LINE_QUANTITY"]) <= 99:  # type: ignore[call-overload]
        raise ConfigError("MAX_LINE_QUANTITY must be from 1 to 99 (the schema allows 99)")
    return settings
