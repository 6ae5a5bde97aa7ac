"""The language switch in every page's footer: remember the choice, go back to the page."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask.typing import ResponseReturnValue

from ..languages import LANGUAGES, remember_language
from . import bp
from .navigation import next_url


@bp.post("/language")
def choose_language() -> ResponseReturnValue:
    """Keep `lang` (ru or en) in the session and return to `next` (303), JavaScript or not."""
    code = request.form.get("lang", "")
    if code not in LANGUAGES:
        abort(400)
    remember_language(code)
    return redirect(next_url(url_for("web.catalog")), 303)
