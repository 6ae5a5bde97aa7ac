"""Delivering the outbox: one pass sends every mail that is due; failures wait and retry.

A pass claims a few due rows at a time (outbox.claim_due: a short transaction that leases
them for LEASE), sends each outside any transaction, and records each outcome in its own
transaction right after the server answered. A crash between the server's acceptance and
that record sends the mail again when the lease runs out, with the same Message-ID: delivery
is at least once, and exactly once unless a sender dies at that moment.

Retries: 15 s after the first failure, then twice as long each time, up to an hour, forever.
A permanent refusal of the mail itself (a 5xx answer to MAIL, RCPT or DATA: unknown recipient,
relaying denied, too big) waits the full hour straight away and is logged as an error each
time; it is still retried, because the contract says a mail is never lost and such refusals
are often our own configuration, fixed later. Whoever decides a mail will never go deletes
its row (`flask mail status` lists what keeps failing).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from flask import current_app

from .. import orders
from ..extensions import db
from . import messages, outbox
from .outbox import Claimed
from .transport import FileTransport, SmtpTransport, open_transport

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=15)
MAX_DELAY = timedelta(hours=1)
# Longer than a slow send of a whole batch takes; a dead sender's rows wait this long.
LEASE = timedelta(minutes=2)
BATCH = 10
MAX_ERROR_LENGTH = 1000


@dataclass
class PassResult:
    """What one pass did."""

    sent: int = 0
    failed: int = 0


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure in a row: 15 s, 30 s, 1 min, … at most 1 h."""
    return min(FIRST_RETRY * 2 ** min(max(attempts, 1) - 1, 16), MAX_DELAY)


def refusal_code(exc: BaseException) -> int | None:
    """The SMTP code with which the server refused this mail (its sender, recipient or data).

    Refusals of the session (EHLO, AUTH) are not about the mail: they are not counted.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return min(codes) if codes else None
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return exc.smtp_code
    return None


def describe_error(exc: BaseException) -> str:
    """The failure for `last_error` and the logs (server replies hold no credentials)."""
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


def deliver_due(stop: Callable[[], bool] = lambda: False, *, batch: int = BATCH) -> PassResult:
    """Send what is due now, once (needs an app context); stops between mails when `stop()`."""
    result = PassResult()
    with open_transport(current_app) as transport:
        while not stop():
            rows = outbox.claim_due(batch, LEASE)
            if not rows:
                break
            for index, row in enumerate(rows):
                if stop():
                    # Hand back what this pass will not send, for the next sender to take.
                    outbox.release([r.id for r in rows[index:]])
                    break
                _deliver(transport, row, result)
    return result


def rendered(row: Claimed) -> Claimed:
    """`row` with its subject and parts: as queued, or rendered now from its order for a mail
    queued to be rendered when sent (`messages.Later`).

    The order is read in a transaction of its own, ended before the mail goes out. An order that
    no longer exists raises LookupError: the mail waits and is retried like any failure."""
    if row.body_text is not None:
        return row
    try:
        order = orders.order_view(row.order_id) if row.order_id is not None else None
    finally:
        db.session.rollback()
    if order is None:
        raise LookupError(f"the order of mail {row.id} ({row.kind}) no longer exists")
    mail = messages.render_later(messages.Later(row.kind, row.recipient), order)
    return replace(row, subject=mail.subject, body_text=mail.text, body_html=mail.html)


def _deliver(transport: SmtpTransport | FileTransport, row: Claimed, result: PassResult) -> None:
    try:
        transport.send(rendered(row))
    except Exception as exc:  # whatever went wrong, the mail waits and is tried again
        attempts = row.attempts + 1
        code = refusal_code(exc)
        permanent = code is not None and code >= 500
        delay = MAX_DELAY if permanent else retry_delay(attempts)
        error = describe_error(exc)
        outbox.mark_failed(row.id, attempts, error, delay)
        result.failed += 1
        log.log(
            logging.ERROR if permanent else logging.WARNING,
            "mail %d (%s) not delivered, attempt %d%s; next try in %s: %s",
            row.id,
            row.kind,
            attempts,
            ", refused permanently" if permanent else "",
            delay,
            error,
        )
    else:
        outbox.mark_sent(row.id)
        result.sent += 1
        log.info("mail %d (%s) delivered", row.id, row.kind)
