"""Request ids and structured (JSON) logs.

Every request has an id: the incoming `X-Request-ID` when it is a sane token (a load balancer or
nginx set it), else a new random one. It is echoed as `X-Request-ID` on every response (where
gunicorn's access log picks it up) and carried by every log record written while the request is
handled (`record.request_id`), so an access log line, the application's log lines and a shopper's
"it failed, request id …" all join up.

Log lines are JSON objects when gunicorn runs with `gunicorn.conf.py` (it installs
`JsonFormatter`), and in production when nothing else configured logging. A log line never holds
a header, a cookie or a setting: only what the code logs explicitly, and the request id.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_ENVIRON_KEY = "storefront.request_id"
# The incoming header as WSGI names it (read from the environ: `request.headers` builds a view).
_INCOMING_KEY = "HTTP_X_REQUEST_ID"
# What a proxy's id looks like (a UUID, nginx's $request_id, a trace id): anything else is
# replaced, so a client cannot put quotes, newlines or a megabyte into our logs.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")


def request_id() -> str:
    """The current request's id, decided once per request."""
    return request_id_of(request.environ)


def request_id_of(environ: dict[str, Any]) -> str:
    """The id of the request `environ` describes, decided once (and kept in it)."""
    current = environ.get(_ENVIRON_KEY)
    if current is None:
        incoming = environ.get(_INCOMING_KEY, "").strip()
        current = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
        environ[_ENVIRON_KEY] = current
    return current


def _install_record_factory() -> None:
    """Give every log record a `request_id` (None outside a request); installed once."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "storefront_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id() if has_request_context() else None
        return record

    factory.storefront_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def _configure_production_logging(app: Flask) -> None:
    """JSON lines on stderr for a production app whose process configured no logging.

    gunicorn with `gunicorn.conf.py` configures the root logger itself (and so does pytest), so
    this only applies to other ways of serving the app.
    """
    root = logging.getLogger()
    if app.config.get("STOREFRONT_ENV") != "production" or root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def register_logging(app: Flask) -> None:
    """Request ids on every log record; JSON logs in production.

    The id goes out on every response with the security headers (`security.SecurityHeaders`).
    """
    _install_record_factory()
    _configure_production_logging(app)
