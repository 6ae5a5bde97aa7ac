"""Accounts meet a stopped PostgreSQL or a stopped SMTP server, under the live gunicorn of
test_checkout_faults (same module-scoped shop, same cluster).

PostgreSQL stopped: registering, signing in, reading the account and signing out are quick 503
problems; nothing is half-written (no customer without a password, no sign-in without its
customer), a session signed in before the outage is still signed in after it, and the same
requests then go through. SMTP stopped: a reset request is answered at once, its mail waits in
the outbox, and once the server is back the worker delivers it once, with a link that works once.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.faults.conftest import Browser, Cluster
from tests.faults.test_checkout_faults import (
    SHOP_BASE_URL,
    Shop,
    assert_unavailable,
    mail_send,
    recover,
    shop,
    value,
)
from tests.faults.test_database_outage import QUICK_SECONDS
from tests.mail.conftest import wait_until
from tests.mail.test_worker import running_worker, stop

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.timeout(240)]

__all__ = ["shop"]  # the live gunicorn this module shares with the checkout faults

PASSWORD = "long enough 1"
RESET_LINK = re.compile(re.escape(SHOP_BASE_URL) + r"/account/password-reset\?token=[\w-]+")


def new_email() -> str:
    return f"olga-{uuid.uuid4().hex[:8]}@example.ru"


def registered(port: int, email: str) -> Browser:
    """A new session that registered (and so is signed in as) `email`."""
    browser = Browser(port)
    made = browser.post("/api/account/register/", {"email": email, "password": PASSWORD})
    assert made.status == 201, made.text
    return browser


def test_account_requests_while_the_database_is_down_are_503_and_write_nothing(
    shop: Shop, cluster: Cluster
) -> None:
    """Stopped between requests: every account call is a quick 503; afterwards the signed-in
    session still is, the refused registration left no customer, and it then goes through."""
    known = new_email()
    signed_in = registered(shop.port, known)
    newcomer, stranger = new_email(), Browser(shop.port)

    cluster.stop("fast")
    assert_unavailable(
        stranger.post("/api/account/register/", {"email": newcomer, "password": PASSWORD})
    )
    assert_unavailable(stranger.post("/api/account/login/", {"email": known, "password": PASSWORD}))
    assert_unavailable(signed_in.get("/api/account/"))
    assert_unavailable(signed_in.post("/api/account/logout/", None))
    assert_unavailable(stranger.post("/api/account/password-reset/", {"email": known}))
    recover(cluster, shop.port)

    account = signed_in.get("/api/account/")
    assert account.status == 200, account.text
    assert account.json()["email"] == known
    count = "SELECT count(*) FROM customers WHERE lower(email) = lower(%(e)s)"
    assert value(cluster, shop, count, e=newcomer) == 0
    orphans = (
        "SELECT count(*) FROM sign_ins s WHERE NOT EXISTS "
        "(SELECT 1 FROM customers c WHERE c.id = s.customer_id)"
    )
    assert value(cluster, shop, orphans) == 0
    assert value(cluster, shop, "SELECT count(*) FROM password_resets") == 0

    made = stranger.post("/api/account/register/", {"email": newcomer, "password": PASSWORD})
    assert made.status == 201, made.text
    assert stranger.get("/api/account/").json()["email"] == newcomer
    assert signed_in.post("/api/account/logout/", None).status == 204
    assert signed_in.get("/api/account/").status == 401


def test_a_reset_requested_while_smtp_is_down_is_mailed_once_it_is_back(
    shop: Shop, cluster: Cluster, tmp_path: Path
) -> None:
    """SMTP stopped: the reset request is a quick 202 and its mail waits; the server back, the
    worker delivers it once, and its link sets a new password once."""
    with cluster.connect(shop.database) as connection:
        connection.execute("DELETE FROM outbox")  # what earlier tests queued is not ours
    shop.smtp.stop()  # as the shop starts, unless an earlier test started it
    email = new_email()
    device = registered(shop.port, email)

    asked = Browser(shop.port).post("/api/account/password-reset/", {"email": email})
    assert asked.status == 202 and asked.seconds < QUICK_SECONDS, asked.text
    assert mail_send(shop).strip().endswith("0 sent, 1 failed, 1 waiting.")

    shop.smtp.start()
    log = tmp_path / "worker.log"
    with running_worker(shop.env, log, poll=1) as worker:
        # The first retry is due 15 s after the failure.
        assert wait_until(lambda: len(shop.smtp.received) >= 1, 45, 0.2), log.read_text()
        stop(worker, log)
    (mail,) = shop.smtp.received
    assert mail.rcpt_tos == [email]
    text = mail.message.get_body(("plain",)).get_content()
    (link,) = set(RESET_LINK.findall(text))
    token = parse_qs(urlsplit(link).query)["token"][0]

    stranger = Browser(shop.port)
    page = stranger.get(f"{urlsplit(link).path}?{urlsplit(link).query}")
    assert page.status == 200 and email in page.text
    confirm = {"token": token, "password": "a new one 22"}
    assert stranger.post("/api/account/password-reset/confirm/", confirm).status == 204
    again = stranger.post("/api/account/password-reset/confirm/", confirm)
    assert again.status == 422 and again.json()["code"] == "invalid_token"
    # Every session of the customer is signed out; the new password signs in, the old does not.
    assert device.get("/api/account/").status == 401
    login = Browser(shop.port).post("/api/account/login/", {"email": email, "password": PASSWORD})
    assert login.status == 401
    fresh = {"email": email, "password": "a new one 22"}
    assert Browser(shop.port).post("/api/account/login/", fresh).status == 200
