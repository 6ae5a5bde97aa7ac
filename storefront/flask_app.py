"""The app's Flask class: Flask, with whether each hook and view is a coroutine asked once.

Flask asks `inspect.iscoroutinefunction` of every before/after/teardown hook and the view on
every request (`ensure_sync`, ten times for a product detail, ~0.3 µs each). The answer never
changes for a function, so it is remembered; Flask's documentation invites overriding
`ensure_sync`. The app has no `async def` views, and one would still be wrapped as Flask does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

# The hooks and views of one app are a few dozen; past this, something makes new callables
# per request (bound methods of new objects), and they are no longer remembered.
_REMEMBERED = 1024


class StorefrontFlask(Flask):
    """Flask, its `ensure_sync` answers remembered per callable."""

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
