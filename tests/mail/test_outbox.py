"""The outbox: rows in the caller's transaction, a wake-up on commit, purging what was sent."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from storefront.extensions import db
from storefront.mail import messages, outbox
from storefront.models import OutboxMessage
from tests.mail.conftest import SHOP_FROM, app_on, make_order, placed_mails


@pytest.fixture
def mail_app(database_url: str) -> Flask:
    """The app on a clean database, with MAIL_FROM set (mail goes nowhere here)."""
    with app_on(database_url) as app:
        yield app


def rows(app: Flask) -> list[OutboxMessage]:
    """Every outbox row, by id."""
    with app.app_context():
        found = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return list(found)


def test_enqueue_writes_rows_in_the_callers_transaction(mail_app: Flask) -> None:
    """Rows appear on the caller's commit, due now, each with its own Message-ID."""
    with mail_app.app_context():
        mails = placed_mails(make_order()) * 2
        added = outbox.enqueue(mails)
        assert len(added) == 2
        db.session.commit()
    first, second = rows(mail_app)
    assert first.kind == "order_placed" and first.recipient == "ivan@example.com"
    assert first.subject == "Заказ K7M-4XQ2 принят"
    assert first.body_text == mails[0].text and first.body_html == mails[0].html
    assert first.order_id is None and first.attempts == 0 and first.sent_at is None
    assert first.message_id.endswith("@storefront.test>") and first.message_id.startswith("<")
    assert first.message_id != second.message_id
    assert outbox.as_utc(first.next_attempt_at) <= outbox.utcnow()


def test_a_rolled_back_transaction_queues_nothing(mail_app: Flask) -> None:
    """The mail of a change that did not happen is never sent."""
    with mail_app.app_context():
        outbox.enqueue(placed_mails(make_order()))
        db.session.rollback()
        assert outbox.unsent_count() == 0
    assert rows(mail_app) == []


def test_nothing_to_enqueue_writes_nothing(mail_app: Flask) -> None:
    """An empty list (a status that mails nobody) adds no row."""
    with mail_app.app_context():
        assert outbox.enqueue(messages.order_status_changed(make_order(status="delivered"))) == []
        db.session.commit()
    assert rows(mail_app) == []


def test_postgresql_notifies_on_commit_only(mail_app: Flask, backend: str) -> None:
    """A waiting worker hears of a commit at once, and of a rollback never."""
    if backend != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    url = make_url(mail_app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as listener:
        listener.execute(f"LISTEN {outbox.CHANNEL}")
        with mail_app.app_context():
            outbox.enqueue(placed_mails(make_order()))
            db.session.rollback()
            assert list(listener.notifies(timeout=0.3)) == []
            outbox.enqueue(placed_mails(make_order()))
            db.session.commit()
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in heard] == [outbox.CHANNEL]


def test_purge_deletes_only_old_sent_mail(mail_app: Flask) -> None:
    """`flask mail purge --older-than 30d`: sent over 30 days ago goes, the rest stays."""
    with mail_app.app_context():
        outbox.enqueue(placed_mails(make_order()) * 3)
        db.session.commit()
        old, recent, unsent = (row.id for row in db.session.scalars(select(OutboxMessage)))
        now = outbox.utcnow()
        t = OutboxMessage.__table__
        db.session.execute(update(t).where(t.c.id == old).values(sent_at=now - timedelta(days=31)))
        db.session.execute(update(t).where(t.c.id == recent).values(sent_at=now))
        db.session.execute(
            update(t).where(t.c.id == unsent).values(created_at=now - timedelta(days=90))
        )
        db.session.commit()
    result = mail_app.test_cli_runner().invoke(args=["mail", "purge", "--older-than", "30d"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 mails" in result.output
    assert [row.id for row in rows(mail_app)] == [recent, unsent]
    bad = mail_app.test_cli_runner().invoke(args=["mail", "purge", "--older-than", "soon"])
    assert bad.exit_code != 0 and "30d" in bad.output


def test_sender_domain_comes_from_mail_from() -> None:
    """Message-IDs use MAIL_FROM's domain."""
    assert outbox.sender_domain(SHOP_FROM) == "storefront.test"
    assert outbox.sender_domain("shop@localhost") == "localhost"
    assert outbox.sender_domain("Storefront") == "localhost"


def test_status_lists_what_waits(mail_app: Flask) -> None:
    """`flask mail status` shows the waiting mails with their attempts and last error."""
    with mail_app.app_context():
        (row_id,) = outbox.enqueue(placed_mails(make_order()))
        db.session.commit()
        outbox.mark_failed(row_id, 3, "SMTPRecipientsRefused: 550 no such user", timedelta(0))
    result = mail_app.test_cli_runner().invoke(args=["mail", "status"])
    assert result.exit_code == 0, result.output
    assert "1 mails waiting." in result.output
    assert "order_placed to ivan@example.com: 3 attempts" in result.output
    assert "550 no such user" in result.output
