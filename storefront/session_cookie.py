"""The session cookie's interface: Flask's signed cookie, its serializer built once per key set.

Flask builds a new `URLSafeTimedSerializer` (and its signer) for every request that opens or
saves a session, ~40 µs of a request that reads one row. The serializer depends only on the
secret keys, the salt and the digest, so it is kept until the keys change.

The session also remembers when its cookie was signed (`signed_at`), so that a change can
re-send the cookie to restart its lifetime only when that is worth a signature
(`needs_refresh`): once a day, not on every cart add.
"""

from __future__ import annotations

import time

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import BadSignature, URLSafeTimedSerializer

# A cookie signed longer ago than this is re-sent by the next change (its lifetime restarts).
REFRESH_AFTER_SECONDS = 24 * 3600


class Session(SecureCookieSession):
    """Flask's cookie session, and when its cookie was signed (None: no valid cookie came)."""

    signed_at: float | None = None


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, unchanged on the wire; the serializer is reused."""

    session_class = Session

    def __init__(self) -> None:
        self._keys: tuple[object, ...] | None = None
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The serializer for the app's current keys (None without a secret key)."""
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if keys != self._keys:
            self._serializer = super().get_signing_serializer(app)
            self._keys = keys
        return self._serializer

    def open_session(self, app: Flask, request: Request) -> Session | None:
        """Flask's session from the cookie, with when it was signed (None: no secret key)."""
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return Session()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return Session()
        session = Session(data)
        session.signed_at = signed_at.timestamp()
        return session


def needs_refresh(session: SessionMixin) -> bool:
    """Whether the session's cookie is new, or was signed over a day ago."""
    signed_at = getattr(session, "signed_at", None)
    return signed_at is None or time.time() - signed_at > REFRESH_AFTER_SECONDS


def register(app: Flask) -> None:
    """Serve `app`'s sessions through `SessionInterface`."""
    app.session_interface = SessionInterface()
