"""The app's Flask class: Flask, with whether each hook and view is a coroutine asked once.

Its requests read their cookies from the one WSGI `Cookie` value (`StorefrontRequest`).

Flask asks `inspect.iscoroutinefunction` of every before/after/teardown hook and the view on
every request (`ensure_sync`, ten times for a product detail, ~0.3 µs each). The answer never
changes for a function, so it is remembered; Flask's documentation invites overriding
`ensure_sync`. The app has no `async def` views, and one would still be wrapped as Flask does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.sansio.http import parse_cookie
from werkzeug.utils import cached_property

# The hooks and views of one app are a few dozen; past this, something makes new callables
# per request (bound methods of new objects), and they are no longer remembered.
_REMEMBERED = 1024


class StorefrontRequest(Request):
    """Flask's request, its cookies parsed from `HTTP_COOKIE` directly.

    werkzeug gathers every `Cookie` header by walking all the request's headers (the whole
    WSGI environ, a title-cased name made for each: ~5 µs more, on every request that opens
    the session). A WSGI environ holds at most one `HTTP_COOKIE`, so reading it is the same answer.
    """

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The cookies the request carries, as werkzeug's `Request.cookies` gives them."""
        # As werkzeug parses it: the value as the server decoded it (latin-1), no re-decoding.
        return parse_cookie(  # type: ignore[return-value]
            cookie=self.environ.get("HTTP_COOKIE", ""), cls=self.dict_storage_class
        )


class StorefrontFlask(Flask):
    """Flask, `ensure_sync` remembered per callable, its requests `StorefrontRequest`."""

    request_class = StorefrontRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """`func` as Flask would run it (a coroutine function wrapped), asked once per callable."""
        try:
            return self._synced[func]
        except KeyError:
            synced = super().ensure_sync(func)
            if len(self._synced) < _REMEMBERED:
                self._synced[func] = synced
            return synced
        except TypeError:  # unhashable (a bound method of an unhashable object)
            return super().ensure_sync(func)
