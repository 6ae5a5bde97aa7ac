"""Idempotency keys for checkout (the IETF `Idempotency-Key` header draft, as the contract says).

A key belongs to one session (its `scope`) and names one request, by a fingerprint of its
method, path and body. `claim` records the key before the work starts, in a short transaction
of its own, so a parallel repeat sees it at once; the work's own transaction then stores the
answer with `complete` (committed together with the order, so an order is never placed without
its key being done, nor the other way round). A refused request `release`s its key: only a
placed order is remembered. A claim whose request died (a killed worker) lapses after `LEASE`;
keys are kept for `TTL` (24 hours) and `purge` deletes older ones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import simplejson
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.engine import Connection

from . import fastsql
from .dbsession import autocommit_engine
from .extensions import db
from .models import IdempotencyKey, Order

LEASE = timedelta(seconds=60)
TTL = timedelta(hours=24)
# 1–255 visible ASCII characters (%x21–7E), no spaces.
VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")

_k = IdempotencyKey.__table__
_o = Order.__table__


class IdempotencyError(Exception):
    """A key that cannot be used for this request; `code` is the contract's."""

    code = "idempotency_error"


class KeyReused(IdempotencyError):
    """The key was sent before with a different request."""

    code = "idempotency_key_reused"


class KeyInProgress(IdempotencyError):
    """The first request with this key is still running."""

    code = "in_progress"


@dataclass(frozen=True)
class Claimed:
    """The key is ours: do the work, then `complete` (or `release` on refusal)."""

    key_id: int


@dataclass(frozen=True)
class Replay:
    """The key's request was done before: answer what it answered."""

    status: int
    body: str
    order_number: str | None


def valid_key(value: str) -> bool:
    """Whether `value` is a well-formed key."""
    return VALID_KEY.fullmatch(value) is not None


def fingerprint(method: str, path: str, payload: object) -> str:
    """SHA-256 of the request: method, path (without its trailing slash) and canonical body."""
    body = simplejson.dumps(payload, sort_keys=True, separators=(",", ":"), use_decimal=True)
    text_ = f"{method.upper()} {path.rstrip('/')}\n{body}"
    return hashlib.sha256(text_.encode()).hexdigest()


_INSERT = fastsql.Statement(
    text(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, state, locked_until, created_at) "
        "VALUES (:scope, :key, :fingerprint, 'in_progress', :locked_until, :now) "
        "ON CONFLICT (scope, key) DO NOTHING RETURNING id"
    ).bindparams(
        bindparam("scope", type_=_k.c.scope.type),
        bindparam("key", type_=_k.c.key.type),
        bindparam("fingerprint", type_=_k.c.fingerprint.type),
        bindparam("locked_until", type_=_k.c.locked_until.type),
        bindparam("now", type_=_k.c.created_at.type),
    )
)
_FIND = (
    select(
        _k.c.id,
        _k.c.fingerprint,
        _k.c.state,
        _k.c.locked_until,
        _k.c.created_at,
        _k.c.response_status,
        _k.c.response_body,
        _o.c.number,
    )
    .outerjoin(_o, _o.c.id == _k.c.order_id)
    .where(_k.c.scope == bindparam("scope"), _k.c.key == bindparam("key"))
)
_COMPLETE = fastsql.Statement(
    update(_k)
    .where(_k.c.id == bindparam("key_id"))
    .values(
        state="done",
        response_status=bindparam("status", type_=_k.c.response_status.type),
        response_body=bindparam("body", type_=_k.c.response_body.type),
        order_id=bindparam("order_id", type_=_k.c.order_id.type),
    )
)


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def claim(scope: str, key: str, print_: str) -> Claimed | Replay:
    """Record `key` for the request `print_` of session `scope` (committed at once).

    Returns Claimed (go ahead) or Replay (answer the stored response); raises KeyReused or
    KeyInProgress.

    Each of the claim's statements stands on its own (an insert that does nothing on a
    clash, a read, a takeover guarded by what was read), so on PostgreSQL, when the session
    has not begun a transaction yet, they run in autocommit on a connection of their own: no
    BEGIN and COMMIT round trips. Otherwise in the session, committed.
    """
    if db.session.get_bind().dialect.name == "postgresql" and not db.session().in_transaction():
        with autocommit_engine(db.engine).connect() as connection:
            return _claim(connection, connection.execute, lambda: None, scope, key, print_)
    return _claim(None, db.session.execute, db.session.commit, scope, key, print_)


def _claim(
    connection: Connection | None,
    execute: Callable[..., Any],
    commit: Callable[[], None],
    scope: str,
    key: str,
    print_: str,
) -> Claimed | Replay:
    for _ in range(3):
        now = datetime.now(UTC)
        key_id = _INSERT.scalar(
            {
                "scope": scope,
                "key": key,
                "fingerprint": print_,
                "locked_until": now + LEASE,
                "now": now,
            },
            connection,
        )
        if key_id is not None:
            commit()
            return Claimed(key_id)
        row = execute(_FIND, {"scope": scope, "key": key}).first()
        if row is None:  # purged in between: try again
            continue
        if _aware(row.created_at) > now - TTL:
            if row.fingerprint != print_:
                commit()
                raise KeyReused("This Idempotency-Key was used with a different request.")
            if row.state == "done":
                commit()
                return Replay(row.response_status, row.response_body, row.number)
            if _aware(row.locked_until) > now:
                commit()
                raise KeyInProgress("A request with this Idempotency-Key is still running.")
        # Expired, or abandoned by a request that died: take it over, unless another did first.
        taken = execute(
            update(_k)
            .where(_k.c.id == row.id, _k.c.locked_until == row.locked_until)
            .values(
                fingerprint=print_,
                state="in_progress",
                locked_until=now + LEASE,
                created_at=now,
                order_id=None,
                response_status=None,
                response_body=None,
            )
        ).rowcount
        commit()
        if taken:
            return Claimed(row.id)
    raise KeyInProgress("A request with this Idempotency-Key is still running.")


def complete(claimed: Claimed, status: int, body: str, order_id: int) -> None:
    """Store the answer under the key, in the caller's transaction (the one placing the order)."""
    _COMPLETE.execute(
        {"key_id": claimed.key_id, "status": status, "body": body, "order_id": order_id}
    )


def release(claimed: Claimed) -> None:
    """Forget a claimed key whose request was refused (its own transaction)."""
    db.session.execute(delete(_k).where(_k.c.id == claimed.key_id, _k.c.state == "in_progress"))
    db.session.commit()


def purge(now: datetime | None = None) -> int:
    """Delete keys older than TTL; returns how many."""
    cutoff = (now or datetime.now(UTC)) - TTL
    return db.session.execute(delete(_k).where(_k.c.created_at < cutoff)).rowcount
