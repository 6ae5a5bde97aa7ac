"""Rate limits on cart writes and admin writes (Flask-Limiter), set by one variable: RATE_LIMITS.

Views join a group with `@rate_limited(CART)` or `@rate_limited(ADMIN)`; `register` puts the
group's limit on them, shared by every view of the group. Reads are never limited.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from limits.errors import ConfigurationError

from .config import ConfigError
from .errors import respond
from .session_cart import current_token

log = logging.getLogger(__name__)

CART = "cart"
ADMIN = "admin"
# Sign-in attempts (and registrations, password changes and resets), counted per email...
LOGIN = "login"
# ...and, for the same views, per client address.
LOGIN_ADDRESS = "login_address"
# Generous: a shopper changing a cart by hand makes a few changes a minute, an admin script
# should use the bulk endpoint (1000 products a request). Sign-ins: the contract's.
DEFAULT_LIMITS = {
    CART: "120/minute",
    ADMIN: "600/minute",
    LOGIN: "10/minute",
    LOGIN_ADDRESS: "60/minute",
}
# Views marked with a group are limited by these groups' limits.
GROUPS_OF = {CART: (CART,), ADMIN: (ADMIN,), LOGIN: (LOGIN, LOGIN_ADDRESS)}
OFF = "off"
EXAMPLE = 'RATE_LIMITS="cart=120/minute;admin=600/minute"'
GROUP_ATTRIBUTE = "rate_limit_group"
EXTENSION = "storefront.ratelimit"

View = TypeVar("View", bound=Callable[..., object])


def rate_limited(group: str) -> Callable[[View], View]:
    """Mark a view as one of `group`'s writes (`register` limits it; the view is unchanged)."""
    if group not in GROUPS_OF:
        raise ValueError(f"unknown rate limit group {group!r}")

    def mark(view: View) -> View:
        setattr(view, GROUP_ATTRIBUTE, group)
        return view

    return mark


def _refuse(problem: str) -> ConfigError:
    return ConfigError(
        f"RATE_LIMITS: {problem}. Write `off`, or `group=limit` pairs joined by `;` (groups: "
        f"{', '.join(DEFAULT_LIMITS)}; a limit is N/second, N/minute, N/hour or N/day, several "
        f"joined by commas, or `off`), e.g. {EXAMPLE}"
    )


def parse_rate_limits(text: str) -> dict[str, str]:
    """Each group's limit from RATE_LIMITS: the defaults, changed by `group=limit;…`; `off`: none.

    Raises ConfigError saying what is wrong, so a typo stops the start instead of the limits.
    """
    text = text.strip()
    if text.lower() == OFF:
        return {}
    limits = dict(DEFAULT_LIMITS)
    seen: set[str] = set()
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, equals, value = part.partition("=")
        group, value = name.strip().lower(), value.strip()
        if not equals or group not in DEFAULT_LIMITS:
            raise _refuse(f"{part!r} is not `group=limit` with a known group")
        if group in seen:
            raise _refuse(f"{group} is given twice")
        seen.add(group)
        if value.lower() == OFF:
            del limits[group]
            continue
        try:
            items = parse_many(value)
        except ValueError:
            raise _refuse(f"{value!r} ({group}) is not a limit") from None
        if any(item.amount < 1 for item in items):
            raise _refuse(f"{value!r} ({group}) allows nothing; use {group}=off for no limit")
        limits[group] = value
    return limits


def _digest(secret: str) -> str:
    """A stand-in for a secret in counter keys: storage and the limiter's log never see it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def client_address() -> str:
    """The client's address: the socket peer, or as the trusted proxies say (`proxies.py`)."""
    state = current_app.extensions[EXTENSION]
    untrusted = not current_app.config["TRUSTED_PROXIES"] and "X-Forwarded-For" in request.headers
    if untrusted and not state["warned"]:
        # Behind a proxy every shopper would share the proxy's address (and its budget).
        state["warned"] = True
        log.warning(
            "X-Forwarded-For arrives but TRUSTED_PROXIES=0: rate limits count every client "
            "by the proxy's address; set TRUSTED_PROXIES to the number of proxies in front"
        )
    return request.remote_addr or "unknown"


def cart_key() -> str:
    """Cart writes count per cart (the session's token), or per address before there is one."""
    token = current_token()
    return f"cart:{_digest(token)}" if token else f"address:{client_address()}"


def admin_key() -> str:
    """Admin writes count per admin token; requests without the right one, per address.

    A wrong token is not an identity: keyed by it, each guess would get a fresh budget.
    """
    from .api.auth import is_admin_request  # here: the api package imports this module

    if is_admin_request():
        return f"admin:{_digest(current_app.config['STOREFRONT_ADMIN_TOKEN'])}"
    return f"address:{client_address()}"


def login_email_key() -> str:
    """Sign-in attempts count per email (as typed in the JSON body or the form, folded)."""
    email = request.form.get("email") if request.form else None
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    if isinstance(email, str) and email.strip():
        return f"login:{_digest(email.strip().lower())}"
    return f"address:{client_address()}"


def login_address_key() -> str:
    """Sign-in attempts from one client address, whatever the email."""
    return f"login-address:{client_address()}"


KEYS = {
    CART: cart_key,
    ADMIN: admin_key,
    LOGIN: login_email_key,
    LOGIN_ADDRESS: login_address_key,
}


def _retry_after(error: RateLimitExceeded) -> int:
    """Whole seconds until the exhausted window ends (at least 1)."""
    limiter: Limiter | None = current_app.extensions[EXTENSION]["limiter"]
    current = limiter.current_limit if limiter else None
    try:
        if current is not None:
            return max(1, math.ceil(current.window.reset_time - time.time()))
    except Exception:  # the storage went away between the hit and this answer
        log.warning("rate limit storage unavailable while answering 429", exc_info=True)
    return max(1, int(error.limit.limit.get_expiry()))


def too_many_requests(error: RateLimitExceeded) -> Response:
    """429: problem+json under /api, the friendly page or htmx notice elsewhere."""
    seconds = _retry_after(error)
    detail = f"Too many requests (limit: {error.limit.limit}); try again in {seconds} s."
    return respond(429, detail, {"Retry-After": str(seconds)})


def register(app: Flask) -> None:
    """Limit the marked views as RATE_LIMITS says (nothing when `off`); answer 429s."""
    limits = parse_rate_limits(str(app.config["RATE_LIMITS"]))
    app.extensions[EXTENSION] = {"limiter": None, "warned": False}
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    if not limits:
        return
    try:
        limiter = Limiter(
            client_address,
            app=app,
            storage_uri=app.config["RATE_LIMIT_STORAGE_URI"],
            strategy="fixed-window",
            key_prefix="storefront",
            # A storage that fails (Redis down) lets requests through, logged: shopping goes on.
            swallow_errors=True,
        )
    except ConfigurationError as exc:
        uri = str(app.config["RATE_LIMIT_STORAGE_URI"])
        # The URI may hold a password: name its scheme only.
        reason = str(exc).replace(uri, "it")
        raise ConfigError(
            f"RATE_LIMIT_STORAGE_URI ({uri.partition(':')[0]}://…) cannot be used: {reason}. "
            "Leave it empty for memory://, or install limits[redis] for redis://"
        ) from None
    app.extensions[EXTENSION]["limiter"] = limiter
    # Flask-Limiter checks application-wide limits before every request; there are none here
    # (each limited view checks its own, inside its decorator), and that check cost a read
    # ~0.2 ms of CPU: 10-20 % of a product detail. Reads run without it.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    for endpoint, view in list(app.view_functions.items()):
        for group in GROUPS_OF.get(getattr(view, GROUP_ATTRIBUTE, None), ()):
            if group in limits:
                limit = limiter.shared_limit(limits[group], scope=group, key_func=KEYS[group])
                view = limit(view)
        app.view_functions[endpoint] = view
