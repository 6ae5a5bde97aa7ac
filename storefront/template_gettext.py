"""`_()` in templates: Flask-Babel's translations, looked up with less machinery per call.

Jinja's i18n extension (installed by Flask-Babel, "newstyle") answers `_("…")` through three
calls, and Flask-Babel finds the request's translations again each time: a catalog page has
about 30 of them, ~15 µs each. This `_` does the same in one call: the translations for the
interface's locale (kept per app and locale, as Flask-Babel keeps them), the text marked safe
when the template autoescapes, and always `%`-formatted, placeholders escaped, as newstyle does.

A render that knows its locale up front (every page, through the layout's context, and every
mail) gets `translator(translations)` in its context instead: the same `_` with the lookup done
once for the whole render. Asking Flask-Babel for the locale was most of each call's cost
(a few µs: context-local lookups, then Babel's `Locale.__eq__` to find the kept translations); a
confirmation mail has 17 of them. Macros imported without context still use the global one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from babel.support import NullTranslations
from flask import Flask
from flask_babel import get_locale, get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

Gettext = Callable[..., str]


def _translated(eval_ctx: EvalContext, translations: NullTranslations, message: str) -> str:
    text = translations.ugettext(message)
    return Markup(text) if eval_ctx.autoescape else text


def translator(translations: NullTranslations) -> Gettext:
    """`_` for templates, translating with `translations` (one locale's, already found)."""

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
        """The translation of `message`, formatted with `variables`."""
        return _translated(eval_ctx, translations, message) % variables

    return gettext


def translator_for_locale() -> Gettext:
    """`translator` for the interface's locale now (a page's, or a mail's forced one)."""
    return translator(get_translations())


def install_template_gettext(app: Flask) -> None:
    """Make `_` and `gettext` in `app`'s templates the one-call lookup (after Flask-Babel's)."""
    by_locale: dict[object, NullTranslations] = {}

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
        """The interface's translation of `message`, formatted with `variables`."""
        locale = get_locale()
        translations = by_locale.get(locale)
        if translations is None:
            translations = get_translations()
            if locale is not None:
                by_locale[locale] = translations
        return _translated(eval_ctx, translations, message) % variables

    app.jinja_env.globals.update(_=gettext, gettext=gettext)
