"""JSON that writes `Decimal` as a number (never through float) and keeps Cyrillic readable."""

from __future__ import annotations

from typing import Any

import simplejson
from flask.json.provider import JSONProvider

_OPTIONS: dict[str, Any] = {"use_decimal": True, "ensure_ascii": False, "separators": (",", ":")}
# simplejson builds an encoder per call given any option (~2 µs); one built once does the same.
_ENCODER = simplejson.JSONEncoder(**_OPTIONS)


class DecimalJSONProvider(JSONProvider):
    """Flask's JSON provider backed by simplejson with exact decimals."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise `obj`; Decimal values must already be normalised (see money.plain)."""
        if not kwargs:
            return _ENCODER.encode(obj)
        return simplejson.dumps(obj, **{**_OPTIONS, **kwargs})

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text."""
        return simplejson.loads(s, **kwargs)
