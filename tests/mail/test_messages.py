"""Rendering the order mails: facts, links, escaping, languages (no database, no SMTP)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from storefront.mail import messages
from storefront.mail.messages import Mail
from tests.conftest import make_app
from tests.mail.conftest import make_order, placed_mails

NBSP = "\u00a0"


def rendered(function: Any, order: Any, **settings: Any) -> list[Mail]:
    """`function(order)` in an app with `settings`."""
    app: Flask = make_app("sqlite://", **settings)
    with app.app_context():
        return function(order)


def test_order_placed_tells_the_shopper_everything() -> None:
    """Number, lines, subtotal, delivery and its fee, total, payment, address: in both parts."""
    (mail,) = rendered(placed_mails, make_order())
    assert (mail.kind, mail.recipient) == ("order_placed", "ivan@example.com")
    assert mail.subject == "Заказ K7M-4XQ2 принят"
    for part in (mail.text, mail.html):
        assert "K7M-4XQ2" in part
        assert "Беспроводная мышь" in part and "Коврик для мыши" in part
        # Prices as the pages show them (the `money` filter): kopecks only when there are some.
        assert f"2 × 2{NBSP}599,50{NBSP}₽" in part
        assert f"5{NBSP}199{NBSP}₽" in part
        assert f"5{NBSP}689{NBSP}₽" in part and f"5{NBSP}989{NBSP}₽" in part
        assert "Доставка курьером" in part and f"300{NBSP}₽" in part
        assert "Москва, ул. Тверская, д. 1, кв. 2" in part
        assert "Оплата при получении" in part
        assert "Реквизиты" not in part
    assert mail.text.startswith("Здравствуйте, Иван Петров!")
    assert mail.html.lstrip().startswith("<!doctype html>")
    assert '<html lang="ru">' in mail.html


def test_order_link_carries_the_access_key() -> None:
    """The order page link starts with SHOP_BASE_URL and opens the order with its key."""
    (mail,) = rendered(placed_mails, make_order(), SHOP_BASE_URL="https://shop.example")
    link = "https://shop.example/orders/K7M-4XQ2?key=s3cret-Key_1"
    assert link in mail.text
    assert f'href="{link}"' in mail.html


def test_invoice_shows_the_payment_details() -> None:
    """Paid by invoice: SHOP_PAYMENT_DETAILS, every line of them, in both parts."""
    details = "ООО «Магазин», ИНН 7700000000\nр/с 40702810000000000000"
    (mail,) = rendered(
        placed_mails,
        make_order(payment_method="invoice"),
        SHOP_PAYMENT_DETAILS=details,
    )
    assert "Счёт на оплату" in mail.text
    assert details in mail.text
    assert "ООО «Магазин», ИНН 7700000000\nр/с 40702810000000000000" in mail.html


def test_free_pickup_has_no_fee_and_no_address() -> None:
    """Pickup is free and goes to no address."""
    order = make_order(delivery_method="pickup", address=None, delivery_fee=Decimal(0))
    (mail,) = rendered(placed_mails, order)
    assert "Самовывоз из магазина: бесплатно" in mail.text
    assert "Адрес доставки" not in mail.text and "Адрес доставки" not in mail.html


def test_the_shop_gets_a_copy_only_when_shop_email_is_set() -> None:
    """SHOP_EMAIL unset: one mail; set: the shop's copy too, with contacts and the comment."""
    assert len(rendered(placed_mails, make_order())) == 1
    order = make_order(comment="Позвоните за час\nдомофон не работает")
    shopper, shop = rendered(placed_mails, order, SHOP_EMAIL="orders@shop.example")
    assert shopper.recipient == "ivan@example.com"
    assert (shop.kind, shop.recipient) == ("order_placed_shop", "orders@shop.example")
    assert shop.subject == "Новый заказ K7M-4XQ2"
    for part in (shop.text, shop.html):
        for fact in ("Иван Петров", "ivan@example.com", "+7 900 123-45-67", "домофон"):
            assert fact in part
        assert f"5{NBSP}989{NBSP}₽" in part


def test_html_escapes_what_shoppers_typed() -> None:
    """A name, an address or a comment cannot put markup into the HTML part."""
    order = make_order(
        name="<script>alert(1)</script>",
        address='"><img src=x onerror=alert(2)>',
        comment="<b>bold</b> & co",
        items=[messages_line("<i>Товар</i>")],
    )
    shopper, shop = rendered(placed_mails, order, SHOP_EMAIL="orders@shop.example")
    for mail in (shopper, shop):
        assert "<script>" not in mail.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
        assert "<img" not in mail.html and "&lt;img src=x" in mail.html
        assert "<i>" not in mail.html and "&lt;i&gt;Товар&lt;/i&gt;" in mail.html
        # Plain text stays as typed.
        assert "<script>alert(1)</script>" in mail.text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in shop.html


def messages_line(name: str) -> Any:
    """One order line named `name`."""
    from storefront.orders import OrderLineView

    return OrderLineView(1, name, Decimal("100"), 1, Decimal("100"))


@pytest.mark.parametrize(
    ("status", "delivery", "subject", "sentence"),
    [
        ("confirmed", "courier", "Заказ K7M-4XQ2 подтверждён", "Мы подтвердили ваш заказ"),
        ("shipped", "courier", "Заказ K7M-4XQ2 отправлен", "передан курьеру"),
        ("shipped", "pickup", "Заказ K7M-4XQ2 готов к выдаче", "можно забрать в магазине"),
        ("cancelled", "courier", "Заказ K7M-4XQ2 отменён", "отменён"),
    ],
)
def test_status_mails(status: str, delivery: str, subject: str, sentence: str) -> None:
    """Confirmed, shipped and cancelled orders mail the shopper what happened, with the link."""
    (mail,) = rendered(
        messages.order_status_changed, make_order(status=status, delivery_method=delivery)
    )
    assert (mail.kind, mail.recipient, mail.subject) == (
        "order_status",
        "ivan@example.com",
        subject,
    )
    for part in (mail.text, mail.html):
        assert sentence in part
        assert "/orders/K7M-4XQ2?key=s3cret-Key_1" in part


@pytest.mark.parametrize("status", ["new", "delivered"])
def test_other_statuses_send_nothing(status: str) -> None:
    """Only confirmed, shipped and cancelled are mailed."""
    assert rendered(messages.order_status_changed, make_order(status=status)) == []


def test_confirmed_invoice_order_repeats_the_payment_details() -> None:
    """Once an invoice order is confirmed, the shopper is told where to pay."""
    (mail,) = rendered(
        messages.order_status_changed,
        make_order(status="confirmed", payment_method="invoice"),
        SHOP_PAYMENT_DETAILS="р/с 40702810000000000000",
    )
    assert "р/с 40702810000000000000" in mail.text and "р/с 40702810000000000000" in mail.html


def test_mails_follow_the_order_locale() -> None:
    """An order placed in English gets its mail in English formatting, the shop's copy in
    Russian; rendering leaves the caller's locale alone."""
    app = make_app("sqlite://", SHOP_EMAIL="orders@shop.example")
    with app.app_context():
        from flask_babel import get_locale

        before = str(get_locale())
        shopper, shop = placed_mails(make_order(locale="en"))
        assert str(get_locale()) == before == "ru"
    assert '<html lang="en">' in shopper.html
    assert f"2 × RUB{NBSP}2,599.50" in shopper.text and "Total:" in shopper.text
    assert '<html lang="ru">' in shop.html
    assert f"2 × 2{NBSP}599,50{NBSP}₽" in shop.text


@pytest.mark.parametrize(
    ("status", "delivery", "subject", "sentence"),
    [
        ("new", "courier", "Order K7M-4XQ2 received", "Thank you for your order!"),
        ("confirmed", "courier", "Order K7M-4XQ2 confirmed", "We have confirmed your order"),
        ("shipped", "courier", "Order K7M-4XQ2 shipped", "is on its way with the courier"),
        ("shipped", "pickup", "Order K7M-4XQ2 is ready for pickup", "pick it up at the shop"),
        ("cancelled", "courier", "Order K7M-4XQ2 cancelled", "we will refund you"),
    ],
)
def test_english_mails_read_in_english(
    status: str, delivery: str, subject: str, sentence: str
) -> None:
    """Every shopper's mail of an order placed in English: subject, text and HTML in English
    alone (the product names stay as the shop wrote them)."""
    order = make_order(
        locale="en", status=status, delivery_method=delivery, name="Ivan Petrov",
        address="1 Tverskaya St, Moscow", payment_method="invoice",
    )  # fmt: skip
    function = placed_mails if status == "new" else messages.order_status_changed
    (mail,) = rendered(function, order, SHOP_PAYMENT_DETAILS="Bank X, account 4070")
    assert mail.subject == subject
    assert mail.text.startswith("Hello Ivan Petrov,")
    for part in (mail.text, mail.html):
        assert sentence in part
        shop_words = {"Беспроводная", "мышь", "Коврик", "для", "мыши"}
        assert set(re.findall(r"[А-Яа-яЁё]+", part)) <= shop_words, part
    assert '<html lang="en">' in mail.html
