"""Checkout meets a stopped PostgreSQL or a stopped SMTP server, under a live gunicorn.

PostgreSQL stopped between requests, while checkouts wait inside their transaction, and under
a stream of checkouts: every answer is an order or a quick 503 problem (`code: unavailable`,
Retry-After); afterwards no order lacks its lines or its mail, no stock is gone without an
order, every cart is either intact or ordered, and a claim left `in_progress` by a request the
outage killed lapses after the lease (idempotency.LEASE), as storefront/idempotency.py says;
retried with their keys, the checkouts then go through, each once.

SMTP stopped: orders are still placed at once, their mails wait in the outbox; once the server
is back the worker delivers each exactly once, and the link in it opens the order.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from storefront.idempotency import LEASE
from tests.faults.conftest import ADMIN, ROOT, Browser, Cluster, Reply, app_env, live_server
from tests.faults.test_database_outage import QUICK_SECONDS, assert_no_leak, wait_until_ready
from tests.live_server import free_port
from tests.mail.conftest import Recorder, SmtpServer, wait_until
from tests.mail.test_worker import running_worker, stop

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.timeout(240)]

WORKERS, THREADS = 2, 4
PRICE = 120
SHOP_EMAIL = "orders@storefront.test"
SHOP_BASE_URL = "https://shop.example"
# Long enough that a checkout waiting on a held row lock is still waiting when PostgreSQL
# stops (the default 5 s could run out first on a busy machine).
STATEMENT_TIMEOUT_MS = 20000
WAITING = 4
STREAM_THREADS = 4
STREAM_SECONDS = 1.5
OUTAGE_SECONDS = 1.0


@dataclass
class Shop:
    """A live gunicorn whose mail goes to `smtp` (stopped until a test starts it)."""

    port: int
    database: str
    smtp: SmtpServer
    env: dict[str, str]


@pytest.fixture(scope="module")
def shop(
    cluster: Cluster, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shop]:
    """The app on the fault cluster; PostgreSQL is running again afterwards."""
    log = tmp_path_factory.mktemp("checkout-faults") / "gunicorn.log"
    url = cluster.database_url(database)
    # throwaway-pg turns synchronous_commit off for speed, and then a crash (`immediate`)
    # forgets commits it had acknowledged: a 201 whose order is gone. Production keeps it on.
    with cluster.connect("postgres", autocommit=True) as connection:
        connection.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = on')
    smtp = SmtpServer(Recorder(), free_port(), {})
    settings = {
        "STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
        "MAIL_URL": smtp.url,
        "SHOP_EMAIL": SHOP_EMAIL,
        "SHOP_BASE_URL": SHOP_BASE_URL,
    }
    with live_server(url, log, workers=WORKERS, threads=THREADS, **settings) as (_, port):
        try:
            yield Shop(port, database, smtp, app_env(url, **settings))
        finally:
            smtp.stop()
            if not (cluster.directory / "data" / "postmaster.pid").exists():
                cluster.start()


# --- helpers --------------------------------------------------------------------------------


def order_body(total: int, email: str = "shopper@example.ru") -> dict[str, Any]:
    """A valid pickup checkout agreeing to `total`."""
    return {
        "email": email,
        "name": "Покупатель",
        "phone": "+7 900 111-22-33",
        "delivery": {"method": "pickup", "address": None},
        "payment": "on_delivery",
        "expected_total": total,
    }


def new_product(port: int, stock: int | None) -> int:
    """A product at PRICE with `stock`; its id."""
    data = {"name": f"Товар {uuid.uuid4().hex[:8]}", "price": PRICE, "category": "Сбои"}
    made = Browser(port).post("/api/products/", {**data, "stock": stock}, ADMIN)
    assert made.status == 201, made.text
    return made.json()["id"]


def shopper_with(port: int, product: int, quantity: int = 1) -> Browser:
    """A new session with `quantity` of `product` in its cart."""
    browser = Browser(port)
    added = browser.post("/api/cart/", {"product_id": product, "quantity": quantity})
    assert added.status == 201, added.text
    return browser


def place(browser: Browser, total: int, key: str | None = None, **body: Any) -> Reply:
    """POST /api/checkout/ from `browser`'s session (with `key` as Idempotency-Key)."""
    headers = {"Idempotency-Key": key} if key else None
    return browser.post("/api/checkout/", order_body(total, **body), headers)


def assert_unavailable(reply: Reply) -> None:
    """A quick 503 problem+json with Retry-After and the contract's generic code."""
    assert reply.status == 503, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert int(reply.headers["Retry-After"]) > 0
    assert reply.json()["code"] == "unavailable"
    assert reply.seconds < QUICK_SECONDS, reply.seconds
    assert_no_leak(reply)


def recover(cluster: Cluster, port: int) -> None:
    """Start PostgreSQL again, then `settle`."""
    cluster.start()
    settle(port)


def settle(port: int) -> None:
    """Wait until the app answers, and until every pooled connection that went stale has
    spent its one 503 (see test_database_outage).

    /readyz asks the database on whichever worker takes it (a guest's empty cart does not ask
    it at all), and a worker's first dead connection discards its whole pool: so once rounds of
    parallel /readyz in a row all answer 200, every worker has met the restart.
    """
    wait_until_ready(port)
    deadline, clean_rounds = time.monotonic() + 15, 0
    with ThreadPoolExecutor(WORKERS * THREADS) as pool:
        while time.monotonic() < deadline:
            statuses = set(pool.map(lambda _: Browser(port).get("/readyz").status, range(16)))
            clean_rounds = clean_rounds + 1 if statuses == {200} else 0
            if clean_rounds == 3:
                return
    pytest.fail(f"the app did not recover: {statuses}")


def rows(cluster: Cluster, shop: Shop, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """What `statement` selects, straight from the database."""
    with cluster.connect(shop.database) as connection:
        return connection.execute(statement, params).fetchall()


def value(cluster: Cluster, shop: Shop, statement: str, **params: Any) -> Any:
    """The one value `statement` selects."""
    return rows(cluster, shop, statement, **params)[0][0]


def assert_nothing_half_written(cluster: Cluster, shop: Shop, product: int, stock: int) -> None:
    """Every order has lines and its mails; the stock gone is the stock ordered; no key is
    done without its order, and none is held longer than its lease."""
    checks = {
        "orders without lines": "SELECT count(*) FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM order_lines l WHERE l.order_id = o.id)",
        "orders without their confirmation": "SELECT count(*) FROM orders o WHERE NOT EXISTS "
        "(SELECT 1 FROM outbox m WHERE m.order_id = o.id AND m.kind = 'order_placed')",
        "done keys without an order": "SELECT count(*) FROM idempotency_keys "
        "WHERE state = 'done' AND order_id IS NULL",
        "keys held past their lease": "SELECT count(*) FROM idempotency_keys "
        "WHERE state = 'in_progress' AND locked_until > now() + %(lease)s",
    }
    for what, statement in checks.items():
        assert value(cluster, shop, statement, lease=LEASE) == 0, what
    ordered = value(
        cluster,
        shop,
        "SELECT coalesce(sum(quantity), 0) FROM order_lines WHERE product_id = %(p)s",
        p=product,
    )
    now = value(cluster, shop, "SELECT stock FROM products WHERE id = %(p)s", p=product)
    assert stock - now == ordered, "stock taken without an order, or an order without its stock"


def lease_passes(cluster: Cluster, shop: Shop) -> None:
    """As if LEASE had gone by: every in-progress claim's lease has run out."""
    with cluster.connect(shop.database) as connection:
        connection.execute(
            "UPDATE idempotency_keys SET locked_until = now() - interval '1 second' "
            "WHERE state = 'in_progress'"
        )


def cart_lines(browser: Browser) -> list[tuple[int, int]]:
    """The session's cart as (product id, quantity)."""
    reply = browser.get("/api/cart/")
    assert reply.status == 200, reply.text
    return [(item["product"]["id"], item["quantity"]) for item in reply.json()["items"]]


def order_numbers(browser: Browser) -> list[str]:
    """The numbers of the session's orders."""
    reply = browser.get("/api/orders/")
    assert reply.status == 200, reply.text
    return [order["number"] for order in reply.json()["items"]]


# --- PostgreSQL -----------------------------------------------------------------------------


def test_a_checkout_while_the_database_is_down_is_503_and_writes_nothing(
    shop: Shop, cluster: Cluster
) -> None:
    """Stopped between requests: every checkout call is a quick 503; after the restart the
    cart is intact, nothing is written, and the same checkout (same key) places the order."""
    product = new_product(shop.port, stock=10)
    shopper = shopper_with(shop.port, product, 2)
    key = f"down-{uuid.uuid4()}"

    cluster.stop("fast")
    assert_unavailable(place(shopper, 2 * PRICE))
    assert_unavailable(place(shopper, 2 * PRICE, key))
    assert_unavailable(shopper.get("/api/checkout/"))
    assert_unavailable(shopper.get("/api/orders/"))
    recover(cluster, shop.port)

    assert cart_lines(shopper) == [(product, 2)]
    assert order_numbers(shopper) == []
    claims = "SELECT count(*) FROM idempotency_keys WHERE key = %(k)s"
    assert value(cluster, shop, claims, k=key) == 0
    assert_nothing_half_written(cluster, shop, product, 10)

    placed = place(shopper, 2 * PRICE, key)
    assert placed.status == 201, placed.text
    assert order_numbers(shopper) == [placed.json()["number"]]
    assert cart_lines(shopper) == []
    assert place(shopper, 2 * PRICE, key).text == placed.text
    assert_nothing_half_written(cluster, shop, product, 10)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_checkouts_cut_off_inside_their_transaction_leave_nothing(
    shop: Shop, cluster: Cluster, mode: str
) -> None:
    """Checkouts waiting on a product row another session holds when PostgreSQL stops: each a
    quick 503; nothing written; their claims lapse after the lease, then the retries succeed."""
    product = new_product(shop.port, stock=10)
    shoppers = [shopper_with(shop.port, product) for _ in range(WAITING)]
    keys = [f"cut-{uuid.uuid4()}" for _ in shoppers]

    holder = cluster.connect(shop.database)
    try:
        holder.execute("SELECT id FROM products WHERE id = %(p)s FOR UPDATE", {"p": product})
        with ThreadPoolExecutor(WAITING) as pool:
            futures = [
                pool.submit(place, shopper, PRICE, key)
                for shopper, key in zip(shoppers, keys, strict=True)
            ]
            # Each is inside its transaction: cart row locked, waiting for the product row.
            assert wait_until(lambda: _waiting_on_locks(cluster, shop) == WAITING, 10, 0.1), (
                "the checkouts never queued on the product row"
            )
            stopped = time.monotonic()
            # The stop waits for the frozen holder to end, so it runs beside the replies.
            with ThreadPoolExecutor(1) as stopper:
                with _frozen(holder.info.backend_pid):
                    stopping = stopper.submit(cluster.stop, mode)
                    replies = [future.result(timeout=30) for future in futures]
                stopping.result(timeout=60)
    finally:
        holder.close()
    for reply in replies:
        assert reply.status == 503, reply.text
        assert reply.json()["code"] == "unavailable"
        assert int(reply.headers["Retry-After"]) > 0
        assert_no_leak(reply)
    # Ended by the outage, not by STATEMENT_TIMEOUT_MS.
    assert time.monotonic() - stopped < STATEMENT_TIMEOUT_MS / 1000
    recover(cluster, shop.port)

    assert_nothing_half_written(cluster, shop, product, 10)
    for shopper in shoppers:
        assert cart_lines(shopper) == [(product, 1)]
        assert order_numbers(shopper) == []
    # The outage took the release with it: each claim waits out its lease (60 s), and a retry
    # meanwhile is told the first is still running, as idempotency.claim documents.
    claims = rows(
        cluster,
        shop,
        "SELECT key, state, locked_until - created_at FROM idempotency_keys "
        "WHERE key = ANY(%(keys)s)",
        keys=keys,
    )
    assert sorted(claims) == sorted((key, "in_progress", LEASE) for key in keys)
    busy = place(shoppers[0], PRICE, keys[0])
    assert busy.status == 409 and busy.json()["code"] == "in_progress", busy.text
    assert int(busy.headers["Retry-After"]) > 0

    lease_passes(cluster, shop)
    for shopper, key in zip(shoppers, keys, strict=True):
        placed = place(shopper, PRICE, key)
        assert placed.status == 201, placed.text
        assert order_numbers(shopper) == [placed.json()["number"]]
        assert cart_lines(shopper) == []
    assert value(cluster, shop, "SELECT stock FROM products WHERE id = %(p)s", p=product) == 6
    assert (
        value(
            cluster,
            shop,
            "SELECT count(*) FROM idempotency_keys WHERE key = ANY(%(keys)s) AND state = 'done'",
            keys=keys,
        )
        == WAITING
    )
    assert_nothing_half_written(cluster, shop, product, 10)


@contextmanager
def _frozen(pid: int) -> Iterator[None]:
    """Hold PostgreSQL backend `pid` stopped (SIGSTOP) until the block ends.

    A fast shutdown signals every backend at once, but the one holding the row lock may end
    first and release it; a checkout waiting on it could then commit before its own signal
    lands (seen once in CI: a 201 where the outage should have cut it off). Frozen, the holder
    keeps the lock until the waiting checkouts have been ended."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _waiting_on_locks(cluster: Cluster, shop: Shop) -> int:
    """How many sessions of the app's database wait for a lock."""
    return value(
        cluster,
        shop,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )


@dataclass
class Attempt:
    """One shopper of the stream: the cart it got and what its checkout answered."""

    browser: Browser
    key: str
    added: Reply
    placed: Reply | None = None
    retries: list[Reply] = field(default_factory=list)


def test_a_stream_of_checkouts_through_an_outage(shop: Shop, cluster: Cluster) -> None:
    """Shoppers keep filling carts and checking out (with keys) while PostgreSQL crashes and
    comes back: orders or quick 503s only; each cart ordered once or left intact; retried with
    the same keys (after the lease for claims the crash cut off), every shopper has one order."""
    stock = 10_000
    product = new_product(shop.port, stock=stock)
    attempts: list[Attempt] = []
    lock = threading.Lock()
    done = threading.Event()

    def shop_until_done() -> None:
        while not done.is_set():
            browser = Browser(shop.port)
            added = browser.post("/api/cart/", {"product_id": product})
            attempt = Attempt(browser, f"stream-{uuid.uuid4()}", added)
            if added.status == 201:
                attempt.placed = place(browser, PRICE, attempt.key)
            with lock:
                attempts.append(attempt)

    with ThreadPoolExecutor(STREAM_THREADS) as pool:
        runners = [pool.submit(shop_until_done) for _ in range(STREAM_THREADS)]
        time.sleep(STREAM_SECONDS)
        before = len(attempts)
        cluster.stop("immediate")
        time.sleep(OUTAGE_SECONDS)
        cluster.start()
        # Keep going until checkouts succeed again on the restarted database.
        wait_until_ready(shop.port)
        assert wait_until(
            lambda: (
                sum(a.placed is not None and a.placed.status == 201 for a in attempts[before:])
                >= 2 * STREAM_THREADS
            ),
            30,
            0.1,
        ), "checkouts did not recover"
        done.set()
        for runner in runners:
            runner.result(timeout=30)
    settle(shop.port)

    added = Counter(a.added.status for a in attempts)
    placed = Counter(a.placed.status for a in attempts if a.placed is not None)
    assert set(added) <= {201, 503} and set(placed) <= {201, 503}, (added, placed)
    # Orders before and after the crash, and the crash met by some.
    assert placed[201] >= 2 * STREAM_THREADS and placed[503] + added[503] > 0, (added, placed)
    for attempt in attempts:
        for reply in (attempt.added, attempt.placed):
            if reply is not None and reply.status == 503:
                assert reply.json()["status"] == 503 and int(reply.headers["Retry-After"]) > 0
                assert_no_leak(reply)
        if attempt.placed is not None and attempt.placed.status == 503:
            assert attempt.placed.json()["code"] == "unavailable"
    assert_nothing_half_written(cluster, shop, product, stock)

    # Each cart that was filled is now either one order (and empty) or untouched.
    with_cart = [a for a in attempts if a.added.status == 201]
    for attempt in with_cart:
        numbers = order_numbers(attempt.browser)
        if attempt.placed.status == 201:
            assert numbers == [attempt.placed.json()["number"]]
        assert len(numbers) <= 1
        assert cart_lines(attempt.browser) == ([] if numbers else [(product, 1)])

    # The shoppers who got a 503 try again with the same key; a claim cut off by the crash
    # answers in_progress until its lease runs out.
    failed = [a for a in with_cart if a.placed.status == 503]
    for attempt in failed:
        attempt.retries.append(place(attempt.browser, PRICE, attempt.key))
    assert {r.status for a in failed for r in a.retries} <= {201, 409}
    lease_passes(cluster, shop)
    for attempt in failed:
        if attempt.retries[-1].status == 409:
            assert attempt.retries[-1].json()["code"] == "in_progress"
            attempt.retries.append(place(attempt.browser, PRICE, attempt.key))
        assert attempt.retries[-1].status == 201, attempt.retries[-1].text
    for attempt in with_cart:
        assert len(order_numbers(attempt.browser)) == 1
        assert cart_lines(attempt.browser) == []
    lines = "SELECT count(*) FROM order_lines WHERE product_id = %(p)s"
    assert value(cluster, shop, lines, p=product) == len(with_cart)
    assert (
        value(cluster, shop, "SELECT count(*) FROM idempotency_keys WHERE state = 'in_progress'")
        == 0
    )
    assert_nothing_half_written(cluster, shop, product, stock)


# --- SMTP -----------------------------------------------------------------------------------

LINK = re.compile(re.escape(SHOP_BASE_URL) + r"/orders/(?P<number>[A-Z0-9-]+)\?key=(?P<key>\S+)")


def mail_send(shop: Shop) -> str:
    """`flask --app storefront mail send` as cron runs it; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "storefront", "mail", "send"],
        cwd=ROOT,
        env=shop.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_orders_go_through_while_smtp_is_down_and_are_mailed_once_it_is_back(
    shop: Shop, cluster: Cluster, tmp_path: Path
) -> None:
    """SMTP stopped: orders are 201 at once, their mails wait; the server back on its port,
    the worker delivers each exactly once, and each confirmation's link opens its order."""
    with cluster.connect(shop.database) as connection:
        connection.execute("DELETE FROM outbox")  # what earlier tests queued is not ours
    product = new_product(shop.port, stock=None)
    shoppers = [shopper_with(shop.port, product) for _ in range(3)]
    orders = {}
    for index, shopper in enumerate(shoppers):
        placed = place(shopper, PRICE, email=f"buyer{index}@example.ru")
        assert placed.status == 201, placed.text
        assert placed.seconds < QUICK_SECONDS
        orders[placed.json()["number"]] = f"buyer{index}@example.ru"
    assert mail_send(shop).strip().endswith("0 sent, 6 failed, 6 waiting.")
    waiting = rows(cluster, shop, "SELECT attempts, last_error FROM outbox WHERE sent_at IS NULL")
    assert len(waiting) == 6
    assert all(attempts == 1 and "Connection" in error for attempts, error in waiting), waiting

    shop.smtp.start()  # the same port as MAIL_URL names
    log = tmp_path / "worker.log"
    with running_worker(shop.env, log, poll=1) as worker:
        # The first retry is due 15 s after the failure.
        assert wait_until(lambda: len(shop.smtp.received) >= 6, 45, 0.2), log.read_text()
        stop(worker, log)
    assert mail_send(shop).strip().endswith("0 sent, 0 failed, 0 waiting.")

    received = shop.smtp.received
    assert len(received) == 6
    assert len({mail.message["Message-ID"] for mail in received}) == 6
    sent = rows(cluster, shop, "SELECT message_id FROM outbox WHERE sent_at IS NOT NULL")
    stored = {message_id for (message_id,) in sent}
    assert {mail.message["Message-ID"] for mail in received} == stored
    # Per order one confirmation to its shopper and one copy to the shop.
    to_shop = [mail for mail in received if mail.rcpt_tos == [SHOP_EMAIL]]
    to_shoppers = [mail for mail in received if mail.rcpt_tos != [SHOP_EMAIL]]
    copies = Counter(n for m in to_shop for n in orders if n in m.message["Subject"])
    assert copies == dict.fromkeys(orders, 1)
    assert len(to_shoppers) == len(orders)
    for mail in to_shoppers:
        text = mail.message.get_body(("plain",)).get_content()
        (link,) = {m.group(0) for m in LINK.finditer(text)}
        number = LINK.match(link)["number"]
        assert mail.rcpt_tos == [orders[number]] and number in mail.message["Subject"]
        assert number in text
        # The link opens the order without the session: the page, and the API with its key.
        parts = urlsplit(link)
        stranger = Browser(shop.port)
        page = stranger.get(f"{parts.path}?{parts.query}")
        assert page.status == 200 and number in page.text
        api = stranger.get(f"/api/orders/{number}/?{parts.query}")
        assert api.status == 200 and api.json()["number"] == number
        assert stranger.get(f"/api/orders/{number}/").status == 404
