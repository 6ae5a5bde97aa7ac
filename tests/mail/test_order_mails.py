"""Order mails end to end: a checkout or a status change through the API queues the mail, a
sender pass delivers it to a real SMTP server (aiosmtpd), and its link opens the order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from storefront.extensions import db
from tests.api.test_checkout import details
from tests.factories import AUTH, create_product
from tests.mail.conftest import Received, SmtpServer, app_on

BASE_URL = "https://shop.example"
SHOP_EMAIL = "orders@shop.example"
LINK = re.compile(re.escape(BASE_URL) + r"/orders/(?P<number>[A-Z0-9-]+)\?key=(?P<key>[\w-]+)")
COURIER = {"method": "courier", "address": "Москва, Арбат, 1"}


@pytest.fixture
def shop(database_url: str, smtp: SmtpServer) -> Iterator[Flask]:
    """The app sending to `smtp`, its links starting with BASE_URL (no SHOP_EMAIL)."""
    with app_on(database_url, MAIL_URL=smtp.url, SHOP_BASE_URL=BASE_URL) as app:
        yield app


def send_mail(app: Flask) -> str:
    """`flask --app storefront mail send`; its report line."""
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    return result.output


def outbox(app: Flask) -> list[tuple[str, str, bool]]:
    """The outbox rows as (kind, recipient, sent)."""
    with app.app_context():
        rows = db.session.execute(
            text("SELECT kind, recipient, sent_at IS NOT NULL FROM outbox ORDER BY id")
        ).all()
        return [(kind, recipient, bool(sent)) for kind, recipient, sent in rows]


def buy(app: Flask, shopper: FlaskClient, units: int = 2) -> dict[str, Any]:
    """Place an order of `units` lamps at 1200 by courier from `shopper`'s session."""
    lamp = create_product(app.test_client(), name="Лампа", price=1200, stock=10)
    assert (
        shopper.post("/api/cart/", json={"product_id": lamp["id"], "quantity": units}).status_code
        == 201
    )
    response = shopper.post(
        "/api/checkout/",
        json=details(1200 * units + 300, email="buyer@example.ru", delivery=COURIER),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def parts(mail: Received) -> tuple[str, str]:
    """The mail's plain-text and HTML parts."""
    message = mail.message
    return tuple(message.get_body((kind,)).get_content() for kind in ("plain", "html"))


def assert_link_opens(app: Flask, mail: Received, order: dict[str, Any]) -> None:
    """The mail links to the order's page with its key, in both parts, and a browser without
    the session opens the order with it: the page, and the API."""
    plain, html = parts(mail)
    (link,) = {match.group(0) for match in LINK.finditer(plain)}
    found = LINK.fullmatch(link)
    assert found["number"] == order["number"]
    assert f'href="{link}"' in html
    stranger = app.test_client()
    url = urlsplit(link)
    page = stranger.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and order["number"] in page.get_data(as_text=True)
    api = stranger.get(f"/api/orders/{order['number']}/?{url.query}")
    assert api.status_code == 200
    assert {**api.get_json(), "status": order["status"]} == order
    assert stranger.get(f"/api/orders/{order['number']}/").status_code == 404
    assert stranger.get(f"/api/orders/{order['number']}/?key=x{found['key']}").status_code == 404


def test_a_checkout_mails_the_shopper_a_confirmation_that_opens_the_order(
    shop: Flask, smtp: SmtpServer
) -> None:
    """The checkout queues one mail and sends nothing itself; a pass delivers it once, with the
    order's facts and its link."""
    shopper = shop.test_client()
    order = buy(shop, shopper)
    assert outbox(shop) == [("order_placed", "buyer@example.ru", False)]
    assert smtp.received == []  # the request never talks to the mail server

    assert "1 sent, 0 failed, 0 waiting" in send_mail(shop)
    (mail,) = smtp.received
    assert mail.rcpt_tos == ["buyer@example.ru"]
    assert mail.message["Subject"] == f"Заказ {order['number']} принят"
    plain, html = parts(mail)
    for part in (plain, html):
        assert order["number"] in part and "Лампа" in part and "Москва, Арбат, 1" in part
    assert_link_opens(shop, mail, order)
    assert "0 sent" in send_mail(shop) and len(smtp.received) == 1
    assert outbox(shop) == [("order_placed", "buyer@example.ru", True)]


@pytest.mark.parametrize(
    ("path", "subject"),
    [
        (["confirmed"], "Заказ {} подтверждён"),
        (["confirmed", "shipped"], "Заказ {} отправлен"),
        (["cancelled"], "Заказ {} отменён"),
        (["confirmed", "cancelled"], "Заказ {} отменён"),
    ],
)
def test_the_admin_moving_an_order_mails_the_shopper(
    shop: Flask, smtp: SmtpServer, path: list[str], subject: str
) -> None:
    """confirmed, shipped and cancelled each mail the shopper (never the shop), with the link."""
    shopper = shop.test_client()
    order = buy(shop, shopper)
    send_mail(shop)
    admin = shop.test_client()
    for status in path:
        response = admin.patch(
            f"/api/orders/{order['number']}/", json={"status": status}, headers=AUTH
        )
        assert response.status_code == 200, response.get_json()
        order = response.get_json()
        assert "1 sent, 0 failed, 0 waiting" in send_mail(shop)
        mail = smtp.received[-1]
        assert mail.rcpt_tos == ["buyer@example.ru"]
        assert_link_opens(shop, mail, order)
    assert mail.message["Subject"] == subject.format(order["number"])
    assert len(smtp.received) == 1 + len(path)


def test_delivered_mails_nobody(shop: Flask, smtp: SmtpServer) -> None:
    """The last step, delivered, sends nothing (the shopper has the goods)."""
    order = buy(shop, shop.test_client())
    for status in ("confirmed", "shipped"):
        shop.test_client().patch(
            f"/api/orders/{order['number']}/", json={"status": status}, headers=AUTH
        )
    assert "3 sent" in send_mail(shop)
    response = shop.test_client().patch(
        f"/api/orders/{order['number']}/", json={"status": "delivered"}, headers=AUTH
    )
    assert response.status_code == 200 and response.get_json()["status"] == "delivered"
    assert "0 sent, 0 failed, 0 waiting" in send_mail(shop)
    assert len(smtp.received) == 3
    assert [kind for kind, _, _ in outbox(shop)] == ["order_placed", "order_status", "order_status"]


def test_the_shop_gets_its_copy_with_shop_email(database_url: str, smtp: SmtpServer) -> None:
    """With SHOP_EMAIL the shop gets its own mail of each new order, status changes do not."""
    settings = {"MAIL_URL": smtp.url, "SHOP_BASE_URL": BASE_URL, "SHOP_EMAIL": SHOP_EMAIL}
    with app_on(database_url, **settings) as app:
        order = buy(app, app.test_client())
        assert "2 sent, 0 failed, 0 waiting" in send_mail(app)
        by_recipient = {tuple(mail.rcpt_tos): mail for mail in smtp.received}
        assert set(by_recipient) == {("buyer@example.ru",), (SHOP_EMAIL,)}
        copy = by_recipient[(SHOP_EMAIL,)]
        assert copy.message["Subject"] == f"Новый заказ {order['number']}"
        plain, _ = parts(copy)
        for fact in (order["number"], "buyer@example.ru", "+7 (900) 123-45-67", "Лампа"):
            assert fact in plain
        assert LINK.search(plain)["number"] == order["number"]
        assert_link_opens(app, by_recipient[("buyer@example.ru",)], order)

        app.test_client().patch(
            f"/api/orders/{order['number']}/", json={"status": "confirmed"}, headers=AUTH
        )
        assert "1 sent" in send_mail(app)
        assert smtp.received[-1].rcpt_tos == ["buyer@example.ru"]


def test_the_confirmation_shows_the_order_as_placed_whatever_happens_to_the_product(
    shop: Flask, smtp: SmtpServer
) -> None:
    """The confirmation is written when it is sent, from the order as stored: a product renamed,
    repriced and deleted before the sender runs leaves the mail as it was at checkout."""
    order = buy(shop, shop.test_client())
    admin = shop.test_client()
    product_id = order["items"][0]["product_id"]
    changed = {"name": "Торшер", "price": 99}
    assert (
        admin.patch(f"/api/products/{product_id}/", json=changed, headers=AUTH).status_code == 200
    )
    assert admin.delete(f"/api/products/{product_id}/", headers=AUTH).status_code == 204

    assert "1 sent, 0 failed, 0 waiting" in send_mail(shop)
    (mail,) = smtp.received
    plain, html = parts(mail)
    for part in (plain, html):
        assert "Лампа" in part and "Торшер" not in part
        assert "2 × 1\u00a0200\u00a0₽" in part and "2\u00a0700\u00a0₽" in part  # 2 × 1200 + 300
    assert LINK.search(plain)["number"] == order["number"]


def test_a_confirmation_whose_order_is_gone_waits_and_the_others_go(
    shop: Flask, smtp: SmtpServer
) -> None:
    """An order deleted by hand before its mail went out: that mail fails (and is kept, to be
    looked at), the next order's is delivered."""
    gone = buy(shop, shop.test_client())
    kept = buy(shop, shop.test_client())
    with shop.app_context():
        db.session.execute(text("DELETE FROM orders WHERE number = :n"), {"n": gone["number"]})
        db.session.commit()

    assert "1 sent, 1 failed, 1 waiting" in send_mail(shop)
    (mail,) = smtp.received
    assert mail.message["Subject"] == f"Заказ {kept['number']} принят"
    status = shop.test_cli_runner().invoke(args=["mail", "status"])
    assert "order_placed" in status.output and "no longer exists" in status.output
