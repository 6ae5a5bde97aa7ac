"""The interface language: the visitor's choice kept in the session, else `Accept-Language`.

Flask-Babel asks `select_locale` at most once per request, the first time something translates
or formats for people (a page, a mail outside `force_locale`, the checkout's titles); a JSON
answer that translates nothing never runs it. The answers are `Locale` objects made once here,
and a header already seen is not parsed again: choosing costs about a microsecond.
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from flask import current_app, has_request_context, request, session
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

# The interface languages, each named in itself (the footer's switch); the first is the default.
LANGUAGES = {"ru": "Русский", "en": "English"}
SESSION_KEY = "lang"
_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}


def select_locale() -> Locale:
    """The chosen language, else the best match of `Accept-Language`, else the shop's default."""
    if has_request_context():
        chosen = session.get(SESSION_KEY)
        if isinstance(chosen, str) and chosen in _LOCALES:
            return _LOCALES[chosen]
        header = request.headers.get("Accept-Language")
        if header:
            best = _best_language(header) if len(header) <= 256 else _match(header)
            if best is not None:
                return _LOCALES[best]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    return _LOCALES.get(default) or Locale.parse(default)


@lru_cache(maxsize=256)
def _best_language(header: str) -> str | None:
    # A browser sends the same header on every request: parse it once, not per page (~20 µs).
    return _match(header)


def _match(header: str) -> str | None:
    """The best of LANGUAGES for an `Accept-Language` value (`en-US` counts as `en`)."""
    return parse_accept_header(header, LanguageAccept).best_match(LANGUAGES)


def remember_language(code: str) -> None:
    """Keep the visitor's choice in the session (next to the cart token, for the same 30 days)."""
    session[SESSION_KEY] = code
    session.permanent = True
