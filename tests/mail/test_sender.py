"""Delivery over real SMTP (aiosmtpd in this process): once, intact, retried, never twice."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from storefront.extensions import db
from storefront.mail import outbox, sender
from storefront.models import OutboxMessage
from tests.mail.conftest import SmtpServer, app_on, make_order, placed_mails

_t = OutboxMessage.__table__


def queue(app: Flask, count: int = 1) -> list[int]:
    """Queue `count` shopper confirmations and commit; their row ids."""
    with app.app_context():
        added = outbox.enqueue(placed_mails(make_order()) * count)
        db.session.commit()
        return added


def row(app: Flask, row_id: int) -> OutboxMessage:
    """One outbox row as stored now."""
    with app.app_context():
        found = db.session.get(OutboxMessage, row_id)
        assert found is not None
        db.session.expunge(found)
        return found


def send(app: Flask) -> str:
    """`flask mail send`; its output (it always exits 0)."""
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    return result.output


def time_passes(app: Flask) -> None:
    """Make every waiting mail due now (as if its retry delay had passed)."""
    with app.app_context():
        db.session.execute(
            update(_t).where(_t.c.sent_at.is_(None)).values(next_attempt_at=outbox.utcnow())
        )
        db.session.commit()


def wait_of(stored: OutboxMessage) -> float:
    """Seconds from now until the row's next attempt."""
    return (outbox.as_utc(stored.next_attempt_at) - outbox.utcnow()).total_seconds()


def test_a_queued_mail_is_delivered_once_and_intact(smtp_app: Flask, smtp: SmtpServer) -> None:
    """Both parts, the headers fixed at queueing, Cyrillic intact; a second pass sends nothing."""
    (row_id,) = queue(smtp_app)
    assert "1 sent, 0 failed, 0 waiting" in send(smtp_app)
    (got,) = smtp.received
    stored = row(smtp_app, row_id)
    assert stored.sent_at is not None and stored.attempts == 0 and stored.last_error is None
    assert got.mail_from == "shop@storefront.test" and got.rcpt_tos == ["ivan@example.com"]
    message = got.message
    assert message["From"] == "Магазин <shop@storefront.test>"
    assert message["To"] == "ivan@example.com"
    assert message["Subject"] == "Заказ K7M-4XQ2 принят"
    assert message["Message-ID"] == stored.message_id
    assert message["Date"].datetime == outbox.as_utc(stored.created_at).replace(microsecond=0)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text, html = (message.get_body((kind,)).get_content() for kind in ("plain", "html"))
    assert text.replace("\r\n", "\n") == stored.body_text
    assert html.replace("\r\n", "\n").rstrip("\n") == stored.body_html.rstrip("\n")
    assert "Здравствуйте, Иван Петров!" in text and "Беспроводная мышь" in html
    assert "1 sent" not in send(smtp_app) and len(smtp.received) == 1


def test_nothing_due_does_nothing(smtp_app: Flask, smtp: SmtpServer) -> None:
    """No mail waiting: no connection, nothing sent, and it says so."""
    smtp.stop()  # it would fail if it tried to connect
    assert "0 sent, 0 failed, 0 waiting" in send(smtp_app)


@pytest.mark.parametrize("refusal", ["rcpt", "data", "stopped"])
def test_a_failed_mail_waits_then_arrives_exactly_once(
    smtp_app: Flask, smtp: SmtpServer, refusal: str, caplog: pytest.LogCaptureFixture
) -> None:
    """451 to RCPT or DATA, or no server at all: the mail stays, retried within 30 s; once the
    server is back it arrives, once."""
    if refusal == "rcpt":
        smtp.handler.rcpt_reply = "451 4.3.0 Mailbox busy, try again later"
    elif refusal == "data":
        smtp.handler.data_reply = "451 4.3.0 Queue full, try again later"
    else:
        smtp.stop()
    (row_id,) = queue(smtp_app)
    with caplog.at_level(logging.WARNING, logger="storefront.mail.sender"):
        assert "0 sent, 1 failed, 1 waiting" in send(smtp_app)
    stored = row(smtp_app, row_id)
    assert stored.sent_at is None and stored.attempts == 1
    assert stored.last_error and ("451" in stored.last_error or refusal == "stopped")
    assert 0 < wait_of(stored) <= 30
    assert f"mail {row_id} (order_placed) not delivered, attempt 1" in caplog.text
    assert smtp.received == []
    # Not due yet: a pass now leaves it alone.
    assert "0 sent, 0 failed, 1 waiting" in send(smtp_app)

    smtp.handler.rcpt_reply = smtp.handler.data_reply = None
    if refusal == "stopped":
        smtp.start()
    time_passes(smtp_app)
    assert "1 sent, 0 failed, 0 waiting" in send(smtp_app)
    time_passes(smtp_app)
    send(smtp_app)
    assert len(smtp.received) == 1
    assert smtp.received[0].message["Message-ID"] == row(smtp_app, row_id).message_id


def test_a_permanent_refusal_retries_hourly_and_says_so(
    smtp_app: Flask, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """550 for the recipient: never dropped, retried at the one-hour cap, logged as an error."""
    smtp.handler.rcpt_reply = "550 5.1.1 No such user here"
    (row_id,) = queue(smtp_app)
    with caplog.at_level(logging.WARNING, logger="storefront.mail.sender"):
        send(smtp_app)
    stored = row(smtp_app, row_id)
    assert stored.attempts == 1 and "550" in (stored.last_error or "")
    assert 3590 < wait_of(stored) <= 3600
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and "refused permanently" in record.getMessage()


def test_retry_delays_grow_to_an_hour() -> None:
    """15 s, 30 s, 1 min, … doubling, then an hour forever."""
    delays = [sender.retry_delay(n).total_seconds() for n in range(1, 13)]
    assert delays[:8] == [15, 30, 60, 120, 240, 480, 960, 1920]
    assert delays[8:] == [3600] * 4
    assert sender.retry_delay(10_000) == timedelta(hours=1)


def test_each_failure_waits_longer(smtp_app: Flask, smtp: SmtpServer) -> None:
    """With the server gone, the stored next attempt follows the schedule, attempt by attempt."""
    smtp.stop()
    (row_id,) = queue(smtp_app)
    for attempt in range(1, 11):
        time_passes(smtp_app)
        send(smtp_app)
        stored = row(smtp_app, row_id)
        assert stored.attempts == attempt
        expected = sender.retry_delay(attempt).total_seconds()
        assert expected - 5 < wait_of(stored) <= expected


def test_one_unreachable_server_fails_the_pass_quickly(smtp_app: Flask, smtp: SmtpServer) -> None:
    """Every due mail is marked failed (none lost, none stuck in its lease)."""
    smtp.stop()
    queue(smtp_app, 3)
    assert "0 sent, 3 failed, 3 waiting" in send(smtp_app)
    with smtp_app.app_context():
        stored = db.session.scalars(select(OutboxMessage)).all()
        assert [r.attempts for r in stored] == [1, 1, 1]
        assert all("Connection" in (r.last_error or "") for r in stored)


def test_a_stopping_sender_hands_back_what_it_did_not_send(
    smtp_app: Flask, smtp: SmtpServer
) -> None:
    """Asked to stop after the first mail, the pass releases the rest of its batch, due now."""
    first, *rest = queue(smtp_app, 3)
    with smtp_app.app_context():
        done = sender.deliver_due(stop=lambda: len(smtp.received) >= 1)
    assert (done.sent, done.failed) == (1, 0)
    assert row(smtp_app, first).sent_at is not None
    for row_id in rest:
        stored = row(smtp_app, row_id)
        assert stored.sent_at is None and stored.attempts == 0
        assert wait_of(stored) <= 0
    assert "2 sent" in send(smtp_app)


@pytest.mark.timeout(60)
def test_parallel_senders_never_send_a_row_twice(
    smtp_app: Flask, smtp: SmtpServer, backend: str
) -> None:
    """Two senders at once (threads, each its own pass and connection) share the rows."""
    if backend != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time")
    queue(smtp_app, 40)
    smtp.handler.delay = 0.01
    start = threading.Barrier(2)
    results: list[sender.PassResult] = []

    def one_pass() -> None:
        with smtp_app.app_context():
            start.wait()
            results.append(sender.deliver_due(batch=4))

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=50)
    ids = [received.message["Message-ID"] for received in smtp.received]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert len(results) == 2 and all(r.sent > 0 for r in results), "both took a share"
    assert sum(r.sent for r in results) == 40 and all(r.failed == 0 for r in results)
    with smtp_app.app_context():
        assert outbox.unsent_count() == 0


def test_credentials_are_percent_decoded_and_never_logged(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """`smtp://us%40er:p%40ss%3Aw@…` logs in as `us@er` with `p@ss:w`; a wrong password is an
    error that names neither."""
    from aiosmtpd.smtp import AuthResult

    from tests.mail.conftest import running_smtp

    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        seen.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers a refusal with 535 itself.
        return AuthResult(success=auth_data.password == b"p@ss:w", handled=False)

    with running_smtp(authenticator=authenticator, auth_require_tls=False) as server:
        url = f"smtp://us%40er:p%40ss%3Aw@127.0.0.1:{server.port}"
        with app_on(database_url, MAIL_URL=url) as app:
            queue(app)
            assert "1 sent" in send(app)
        assert seen[-1] == (b"us@er", b"p@ss:w") and len(server.received) == 1
        wrong = f"smtp://us%40er:wr0ng-pa55@127.0.0.1:{server.port}"
        with app_on(database_url, MAIL_URL=wrong) as app:
            (row_id,) = queue(app)
            with caplog.at_level(logging.INFO):
                output = send(app)
            stored = row(app, row_id)
        assert "1 failed" in output and "535" in (stored.last_error or "")
        for text in (output, caplog.text, stored.last_error or ""):
            assert "wr0ng-pa55" not in text and "p@ss" not in text
