"""The `Idempotency-Key` header of API writes: validate it, claim it, or replay its answer."""

from __future__ import annotations

from flask import Response, request, url_for

from .. import idempotency
from ..errors import ApiError, validation_error

HEADER = "Idempotency-Key"


def claim_for_request(token: str | None, raw_body: object) -> idempotency.Claimed | Response | None:
    """Claim the request's key for session `token`: Claimed, the stored answer, or None.

    None when the request has no key or the session no cart (its checkout is refused anyway,
    and a refusal leaves a key unused). Raises the 422/409 problems of a bad or busy key.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not idempotency.valid_key(key):
        raise validation_error(
            [{"loc": ["header", HEADER], "msg": "must be 1 to 255 visible ASCII characters"}]
        )
    if not token:
        return None
    print_ = idempotency.fingerprint(request.method, request.path, raw_body)
    try:
        result = idempotency.claim(token, key, print_)
    except idempotency.KeyReused as exc:
        raise ApiError(
            422,
            str(exc),
            code=exc.code,
            errors=[{"loc": ["header", HEADER], "msg": "was used with a different request"}],
        ) from exc
    except idempotency.KeyInProgress as exc:
        raise ApiError(409, str(exc), code=exc.code, headers={"Retry-After": "1"}) from exc
    if isinstance(result, idempotency.Replay):
        headers = {"Cache-Control": "no-store"}
        if result.order_number:
            headers["Location"] = url_for("api.get_order", number=result.order_number)
        return Response(result.body, result.status, headers, mimetype="application/json")
    return result
