"""Mail tests: a real SMTP server in the test process (aiosmtpd), orders to render, apps."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from storefront.extensions import db
from storefront.mail import messages
from storefront.mail.messages import Mail
from storefront.orders import OrderLineView, OrderView
from tests.conftest import empty_tables, make_app
from tests.live_server import free_port

SHOP_FROM = "Магазин <shop@storefront.test>"


@dataclass
class Received:
    """One message an SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts, or answers with a refusal when told."""

    received: list[Received] = field(default_factory=list)
    # e.g. "451 4.3.0 Try again later": the answer to RCPT or DATA instead of accepting.
    rcpt_reply: str | None = None
    data_reply: str | None = None
    # Seconds to think before accepting a message (makes parallel senders overlap).
    delay: float = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Refuse the recipient when told to, else accept it."""
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Refuse the message when told to, else keep it."""
        if self.data_reply:
            return self.data_reply
        if self.delay:
            await asyncio.sleep(self.delay)
        data = envelope.original_content or envelope.content
        message = email.message_from_bytes(data, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), data, message))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A running aiosmtpd on 127.0.0.1; `stop()` and `start()` take it away and back."""

    handler: Recorder
    port: int
    options: dict[str, Any]
    controller: Controller | None = None

    @property
    def url(self) -> str:
        """MAIL_URL for it."""
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        """What it accepted so far."""
        return self.handler.received

    def start(self) -> None:
        """Listen (again) on the same port."""
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextmanager
def running_smtp(**options: Any) -> Iterator[SmtpServer]:
    """An SMTP server for the block (aiosmtpd options such as `authenticator`)."""
    server = SmtpServer(Recorder(), free_port(), options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server that keeps what it accepts."""
    with running_smtp() as server:
        yield server


@contextmanager
def app_on(database_url: str, **overrides: Any) -> Iterator[Flask]:
    """An app like the `app` fixture's, with `overrides`; the tables are emptied afterwards."""
    app = make_app(database_url, MAIL_FROM=SHOP_FROM, **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        empty_tables(database_url)


@pytest.fixture
def smtp_app(database_url: str, smtp: SmtpServer) -> Iterator[Flask]:
    """The app on a clean database, sending to `smtp`."""
    with app_on(database_url, MAIL_URL=smtp.url) as app:
        yield app


def make_order(**changes: Any) -> OrderView:
    """An order as checkout hands it to the mail functions (two lines, courier, invoice)."""
    fields: dict[str, Any] = {
        "id": 1,
        "number": "K7M-4XQ2",
        "access_key": "s3cret-Key_1",
        "status": "new",
        "created_at": datetime(2026, 12, 3, 10, 15, tzinfo=UTC),
        "email": "ivan@example.com",
        "name": "Иван Петров",
        "phone": "+7 900 123-45-67",
        "delivery_method": "courier",
        "address": "Москва, ул. Тверская, д. 1, кв. 2",
        "delivery_fee": Decimal("300"),
        "payment_method": "on_delivery",
        "comment": "",
        "items": [
            OrderLineView(1, "Беспроводная мышь", Decimal("2599.50"), 2, Decimal("5199.00")),
            OrderLineView(None, "Коврик для мыши", Decimal("490"), 1, Decimal("490")),
        ],
        "subtotal": Decimal("5689.00"),
        "total": Decimal("5989.00"),
        "currency": "RUB",
        "locale": "ru",
    }
    fields.update(changes)
    return OrderView(**fields)


def placed_mails(order: OrderView) -> list[Mail]:
    """A new order's mails as the sender renders them (`messages.order_placed` queues them to
    be rendered when sent); needs an app context."""
    return [messages.render_later(mail, order) for mail in messages.order_placed(order)]


def wait_until(condition: Callable[[], bool], seconds: float, step: float = 0.02) -> bool:
    """Poll `condition` for up to `seconds`; True once it holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
