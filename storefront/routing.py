"""URL converters shared by the API and the pages."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from .schemas import MAX_ID


class IdConverter(BaseConverter):
    """A database id in a path: ASCII digits only, 1 to 2 147 483 647, else 404.

    Not `int(min=1, max=…)`: werkzeug treats a value refused by a converter as "no rule
    matched", so with one rule per method it answers 405 where the contract wants 404, and
    `int` also takes non-ASCII digits ("１"). Raising NotFound here is final for every method.
    """

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        """The id, or a 404 when no row could ever have it."""
        number = int(value) if len(value) <= 10 else 0
        if not 1 <= number <= MAX_ID:
            raise NotFound()
        return number

    def to_url(self, value: object) -> str:
        """The id as digits."""
        return str(int(value))  # type: ignore[call-overload]
