"""The password reset mail end to end: a request queues it, a sender pass delivers it to a real
SMTP server (aiosmtpd), and its link opens the new-password page and works once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_account import EMAIL, NEW_PASSWORD, PASSWORD, login, register, request_reset
from tests.mail.conftest import Received, SmtpServer, app_on
from tests.mail.test_order_mails import outbox, parts, send_mail
from tests.web.conftest import csrf_token

BASE_URL = "https://shop.example"
LINK = re.compile(re.escape(BASE_URL) + r"/account/password-reset\?token=[\w-]+")
INVALID = "Ссылка недействительна"


@pytest.fixture
def shop(database_url: str, smtp: SmtpServer) -> Iterator[Flask]:
    """The app sending to `smtp`, its links starting with BASE_URL; Anna has an account."""
    with app_on(database_url, MAIL_URL=smtp.url, SHOP_BASE_URL=BASE_URL) as app:
        assert register(app.test_client(), name="Anna").status_code == 201
        yield app


def ask_on_the_page(client: FlaskClient, email: str = EMAIL) -> None:
    """Ask for a reset link with the page's form."""
    form = {"csrf_token": csrf_token(client, "/account/password-reset"), "email": email}
    assert client.post("/account/password-reset", data=form).status_code == 303


def the_link(mail: Received) -> str:
    """The one reset link of the mail: the same in the text and the HTML part."""
    plain, html = parts(mail)
    (link,) = set(LINK.findall(plain))
    assert f'href="{link}"' in html
    return link


def set_password(client: FlaskClient, link: str, password: str) -> tuple[int, str]:
    """Open the link's page and send its form; the answer's status and text."""
    url = urlsplit(link)
    path = f"{url.path}?{url.query}"
    token = url.query.partition("=")[2]
    form = {"csrf_token": csrf_token(client, path), "token": token, "password": password}
    response = client.post("/account/password-reset/confirm", data=form)
    return response.status_code, response.get_data(as_text=True)


def test_the_reset_mail_arrives_and_its_link_sets_a_password_once(
    shop: Flask, smtp: SmtpServer
) -> None:
    ask_on_the_page(shop.test_client())
    assert outbox(shop) == [("password_reset", EMAIL, False)]
    assert smtp.received == []  # the request never talks to the mail server

    assert "1 sent, 0 failed, 0 waiting" in send_mail(shop)
    (mail,) = smtp.received
    assert mail.rcpt_tos == [EMAIL]
    assert mail.message["Subject"] == "Восстановление пароля"
    plain, _ = parts(mail)
    assert "Здравствуйте, Anna!" in plain and "один час" in plain
    link = the_link(mail)

    browser = shop.test_client()  # another browser than the one that asked
    url = urlsplit(link)
    page = browser.get(f"{url.path}?{url.query}").get_data(as_text=True)
    assert f"Аккаунт: {EMAIL}" in page and 'name="password"' in page
    assert set_password(browser, link, NEW_PASSWORD)[0] == 303
    assert login(shop.test_client(), EMAIL, NEW_PASSWORD).status_code == 200
    assert login(shop.test_client(), EMAIL, PASSWORD).status_code == 401

    status, again = set_password(browser, link, "a third password")
    assert status == 200 and INVALID in again
    assert login(shop.test_client(), EMAIL, "a third password").status_code == 401
    assert "0 sent" in send_mail(shop) and len(smtp.received) == 1


def test_an_unknown_email_gets_no_mail(shop: Flask, smtp: SmtpServer) -> None:
    ask_on_the_page(shop.test_client(), "nobody@example.ru")
    assert request_reset(shop.test_client(), "nobody@example.ru").status_code == 202
    assert "0 sent, 0 failed, 0 waiting" in send_mail(shop)
    assert smtp.received == [] and outbox(shop) == []


def test_only_the_newest_mailed_link_works(shop: Flask, smtp: SmtpServer) -> None:
    ask_on_the_page(shop.test_client())
    ask_on_the_page(shop.test_client())
    assert "2 sent" in send_mail(shop)
    older, newer = (the_link(mail) for mail in smtp.received)
    browser = shop.test_client()
    status, page = set_password(browser, older, NEW_PASSWORD)
    assert status == 200 and INVALID in page
    assert set_password(browser, newer, NEW_PASSWORD)[0] == 303


def in_english_by_choice(client: FlaskClient) -> None:
    """Choose English in the footer, then ask with the page's form."""
    form = {"csrf_token": csrf_token(client, "/"), "lang": "en", "next": "/"}
    assert client.post("/language", data=form).status_code == 303
    ask_on_the_page(client)


def in_english_by_header(client: FlaskClient) -> None:
    """Ask through the API from a browser that prefers English."""
    response = client.post(
        "/api/account/password-reset/",
        json={"email": EMAIL},
        headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize("ask", [in_english_by_choice, in_english_by_header])
def test_a_request_made_in_english_gets_an_english_mail(shop: Flask, smtp: SmtpServer, ask) -> None:
    ask(shop.test_client())
    assert "1 sent" in send_mail(shop)
    (mail,) = smtp.received
    assert mail.message["Subject"] == "Password reset"
    plain, html = parts(mail)
    assert "Hello Anna," in plain and "Set a new password" in html
    assert not re.search("[а-яё]", plain, re.I), plain
    status, _ = set_password(shop.test_client(), the_link(mail), NEW_PASSWORD)
    assert status == 303
