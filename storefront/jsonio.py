"""JSON that writes `Decimal` as a number (never through float) and keeps Cyrillic readable."""

from __future__ import annotations

from typing import Any

import simplejson
from flask.json.provider import JSONProvider


class DecimalJSONProvider(JSONProvider):
    """Flask's JSON provider backed by simplejson with exact decimals."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise `obj`; Decimal values must already be normalised (see money.plain)."""
        kwargs.setdefault("use_decimal", True)
        kwargs.setdefault("ensure_ascii", False)
        kwargs.setdefault("separators", (",", ":"))
        return simplejson.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text."""
        return simplejson.loads(s, **kwargs)
