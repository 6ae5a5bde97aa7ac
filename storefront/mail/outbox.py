"""The outbox: mails are rows written in the transaction that causes them, delivered later.

`enqueue` adds rows to the caller's transaction and never commits, so an order and its mails
are written together or not at all. The sender (sender.py) works the other end: it claims due
rows in a short transaction of its own, delivers them outside any transaction, then marks
each one, again in a transaction of its own (`mark_sent`, `mark_failed`, `release`).

All times are the app's UTC clock, never the database's: the sender compares them with its
own clock, and SQLite has no time arithmetic to do it with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid, parseaddr
from functools import lru_cache

from flask import current_app
from sqlalchemy import Row, bindparam, delete, func, insert, select, text, update

from .. import fastsql
from ..extensions import db
from ..models import OutboxMessage
from .messages import Later, Mail

# PostgreSQL wakes a waiting worker through this channel (LISTEN outbox).
CHANNEL = "outbox"
_t = OutboxMessage.__table__


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row a sender has claimed: everything needed to build and file its message.

    `subject`, `body_text` and `body_html` are None for a mail rendered when sent
    (`messages.Later`): the sender renders it from its order (`order_id`)."""

    id: int
    created_at: datetime
    kind: str
    recipient: str
    subject: str | None
    body_text: str | None
    body_html: str | None
    order_id: int | None
    message_id: str
    attempts: int


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; SQLite gives back the naive UTC times it was given."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@lru_cache(maxsize=8)
def sender_domain(mail_from: str) -> str:
    """The domain of MAIL_FROM's address, for Message-IDs (`localhost` when it has none).

    Kept per value: parsing the address again for every order's mails cost ~7 µs each."""
    _, at, domain = parseaddr(mail_from)[1].rpartition("@")
    return domain if at and domain else "localhost"


# One row per mail, as a statement rather than ORM objects: the ORM's flush of the rows at
# commit was ~0.5 ms of a checkout's CPU.
_INSERT = fastsql.Statement(
    insert(_t)
    .values(
        {
            name: bindparam(name, type_=_t.c[name].type)
            for name in (
                "created_at",
                "kind",
                "recipient",
                "subject",
                "body_text",
                "body_html",
                "message_id",
                "order_id",
                "attempts",
                "next_attempt_at",
            )
        }
    )
    .returning(_t.c.id)
)


_NOTIFY = fastsql.Statement(text(f"NOTIFY {CHANNEL}"))


def queued(mails: Iterable[Mail | Later], order_id: int | None = None) -> list[fastsql.Call]:
    """The statements that add `mails` to the outbox, each with its own Message-ID, and wake
    the sender: for the caller to send in its transaction (`fastsql.together`), as `enqueue`
    does. A `Later` is queued without its texts, for the sender to render from `order_id`."""
    now = utcnow()
    domain = sender_domain(current_app.config["MAIL_FROM"])
    calls: list[fastsql.Call] = []
    for mail in mails:
        rendered = isinstance(mail, Mail)
        row = {
            "created_at": now,
            "kind": mail.kind,
            "recipient": mail.recipient,
            "subject": mail.subject if rendered else None,
            "body_text": mail.text if rendered else None,
            "body_html": mail.html if rendered else None,
            "message_id": make_msgid(domain=domain),
            "order_id": order_id,
            "attempts": 0,
            "next_attempt_at": now,
        }
        calls.append((_INSERT, row))
    if calls and db.session.get_bind().dialect.name == "postgresql":
        # Delivered when the transaction commits, and never if it rolls back.
        calls.append((_NOTIFY, None))
    return calls


def enqueue(mails: Iterable[Mail | Later], order_id: int | None = None) -> list[int]:
    """Add `mails` to the caller's transaction (no commit), each with its own Message-ID.

    Returns the new rows' ids, in the order of `mails`.
    """
    mails = list(mails)
    results = fastsql.together(*queued(mails, order_id))
    return [rows[0][0] for rows in results[: len(mails)]]


def claim_due(limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to `limit` due rows for this sender and commit: their next attempt moves past
    `lease`, so no other sender takes them meanwhile, and a crashed sender's come back."""
    now = utcnow()
    due = (
        select(_t.c.id)
        .where(_t.c.sent_at.is_(None), _t.c.next_attempt_at <= now)
        .order_by(_t.c.next_attempt_at, _t.c.id)
        .limit(limit)
        # PostgreSQL: rows another sender is claiming right now are skipped, not waited for.
        # SQLite renders no FOR UPDATE: the UPDATE takes its single write lock instead.
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(_t)
        .where(_t.c.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=now + lease)
        .returning(*(_t.c[field.name] for field in fields(Claimed)))
    )
    try:
        rows = db.session.execute(claim).all()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return sorted((Claimed(**row._mapping) for row in rows), key=lambda row: row.id)


def _write(statement: object) -> None:
    """Run one UPDATE/DELETE in a transaction of its own."""
    try:
        db.session.execute(statement)  # type: ignore[call-overload]
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def mark_sent(row_id: int) -> None:
    """Record that the server accepted the mail (committed at once: a crash now would resend)."""
    _write(update(_t).where(_t.c.id == row_id).values(sent_at=utcnow(), last_error=None))


def mark_failed(row_id: int, attempts: int, error: str, delay: timedelta) -> None:
    """Record a failed attempt and when to try again."""
    _write(
        update(_t)
        .where(_t.c.id == row_id)
        .values(attempts=attempts, last_error=error, next_attempt_at=utcnow() + delay)
    )


def release(row_ids: list[int]) -> None:
    """Hand claimed rows back untried (a stopping worker), due again at once."""
    if row_ids:
        _write(
            update(_t)
            .where(_t.c.id.in_(row_ids), _t.c.sent_at.is_(None))
            .values(next_attempt_at=utcnow())
        )


def unsent_count() -> int:
    """How many mails are waiting: due now, to be retried later, or being sent."""
    return db.session.execute(select(func.count()).where(_t.c.sent_at.is_(None))).scalar_one()


def waiting(limit: int = 100) -> list[Row]:
    """The mails not sent yet, oldest first (at most `limit`), for people to look at."""
    columns = ("id", "kind", "recipient", "attempts", "next_attempt_at", "last_error")
    query = select(*(_t.c[name] for name in columns)).where(_t.c.sent_at.is_(None))
    return list(db.session.execute(query.order_by(_t.c.id).limit(limit)).all())


def next_attempt() -> datetime | None:
    """When the earliest waiting mail is due (UTC), or None when none waits."""
    moment = db.session.execute(
        select(func.min(_t.c.next_attempt_at)).where(_t.c.sent_at.is_(None))
    ).scalar_one()
    return as_utc(moment) if moment is not None else None


def purge_sent(age: timedelta) -> int:
    """Delete mails sent more than `age` ago (committed); returns how many."""
    statement = delete(_t).where(_t.c.sent_at.is_not(None), _t.c.sent_at < utcnow() - age)
    try:
        removed = db.session.execute(statement).rowcount
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return removed
