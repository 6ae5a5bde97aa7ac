"""Client addresses behind reverse proxies: werkzeug's ProxyFix, only for TRUSTED_PROXIES hops."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ConfigError


def register_proxies(app: Flask) -> None:
    """Believe `X-Forwarded-For` and `-Proto` as set by the last TRUSTED_PROXIES proxies.

    With 0 (the default) they are ignored and the client is the socket's peer: anyone can send
    those headers, so only the proxies we run may be believed. `Host` is left as the proxy
    passes it (`proxy_set_header Host $host`), never taken from `X-Forwarded-Host`.
    """
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops < 0:
        raise ConfigError(
            f"TRUSTED_PROXIES must be 0 or more (how many proxies stand in front), got {hops}"
        )
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
