"""Storefront: a Flask shop with a JSON API and Jinja + HTMX pages over one catalog and cart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import ROOT, SESSION_COOKIE_NAME, load_settings
from .extensions import babel, csrf, db, migrate
from .flask_app import StorefrontFlask
from .languages import select_locale
from .logs import register_logging
from .routing import register_url_limit
from .security import register_security


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers and commands."""
    load_dotenv(ROOT / ".env", override=False)
    app = StorefrontFlask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(_flask_defaults())
    app.config.from_mapping(load_settings(Path(app.instance_path), dict(overrides or {})))
    register_logging(app)
    register_security(app)
    register_url_limit(app)
    register_extensions(app)
    register_blueprints(app)
    register_accounts(app)
    register_rate_limits(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def _flask_defaults() -> dict[str, Any]:
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": SESSION_COOKIE_NAME,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=30),
        # The cookie is re-sent when the cart changes, not on every read.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "JSON_SORT_KEYS": False,
        # A token that expires after an hour breaks every form in a tab left open; the token is
        # still tied to the session, which is what stops forgery.
        "WTF_CSRF_TIME_LIMIT": None,
        # Russian unless the visitor chooses English or their browser prefers it (languages.py).
        "BABEL_DEFAULT_LOCALE": "ru",
    }


def _engine_options(app: Flask) -> dict[str, Any]:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql"):
        timeout = int(app.config["STATEMENT_TIMEOUT_MS"])
        connect_args: dict[str, Any] = {"connect_timeout": 5}
        if app.config["DATABASE_POOLER"] == "pgbouncer":
            # Transaction pooling shares server connections between clients: PgBouncer refuses
            # the `options` startup parameter (the role carries those settings instead, see
            # docs/deploying.md), and a statement prepared on one server connection is missing
            # on the next.
            connect_args["prepare_threshold"] = None
        else:
            # JIT compiles big plans for 50+ ms; shop queries are short, so it only costs.
            # Parallel workers take ~8 ms to start, for a search that then runs in 1 ms,
            # and under concurrent requests there are no idle cores for them anyway.
            connect_args["options"] = (
                f"-c statement_timeout={timeout} -c lock_timeout={timeout} -c jit=off"
                " -c max_parallel_workers_per_gather=0"
            )
        return {
            "pool_size": 10,
            "max_overflow": 5,
            "pool_timeout": 10,
            "connect_args": connect_args,
        }
    return {"connect_args": {"timeout": 15}}


def register_extensions(app: Flask) -> None:
    """Bind the database, migrations, CORS, CSRF protection and translations to `app`."""
    from . import cross_origin, fastsql, session_cookie
    from .jsonio import DecimalJSONProvider

    app.json = DecimalJSONProvider(app)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(app))
    db.init_app(app)
    fastsql.register(app)
    session_cookie.register(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    cross_origin.register(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: enforce foreign keys (cascades) and let readers and a writer share the file."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 15000")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    """Mount the API, the pages and the probes."""
    from . import api, health, web
    from .routing import IdConverter

    app.url_map.converters["id"] = IdConverter
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(web.bp)
    exempt_api_from_csrf(app, api.bp.name)


def exempt_api_from_csrf(app: Flask, api_name: str) -> None:
    """Let the JSON API keep the contract's Content-Type/Origin rule instead of form tokens.

    Flask-WTF looks up the blueprint that handles the request by its full name, so a nested
    blueprint (`api.cart`) is not covered by exempting its parent: exempt each one by name.
    """
    for name, blueprint in app.blueprints.items():
        if name == api_name or name.startswith(f"{api_name}."):
            csrf.exempt(blueprint)


def register_accounts(app: Flask) -> None:
    """The signed-in customer of a request (Flask-Login over the session cookie)."""
    from .session_account import register

    register(app)


def register_rate_limits(app: Flask) -> None:
    """Client addresses through trusted proxies; limits on cart and admin writes (RATE_LIMITS)."""
    from .proxies import register_proxies
    from .ratelimit import register

    register_proxies(app)
    register(app)


def register_errorhandlers(app: Flask) -> None:
    """problem+json for /api, pages elsewhere."""
    from .errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    """`flask seed`, `flask carts purge`, `flask mail …`."""
    from .cli import register

    register(app)
