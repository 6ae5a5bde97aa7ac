"""The session cookie's interface: Flask's signed cookie, its serializer built once per key set.

Flask builds a new `URLSafeTimedSerializer` (and its signer) for every request that opens or
saves a session, ~40 µs of a request that reads one row. The serializer depends only on the
secret keys, the salt and the digest, so it is kept until the keys change.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, unchanged on the wire; the serializer is reused."""

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


def register(app: Flask) -> None:
    """Serve `app`'s sessions through `SessionInterface`."""
    app.session_interface = SessionInterface()
