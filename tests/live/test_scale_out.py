"""Two app instances behind nginx (the shipped config) over one PostgreSQL.

The app keeps no state of its own, so a cart filled through one instance is read, changed and
emptied through the other, and an instance that stops in the middle of a load costs no GET:
nginx retries it on the other one. nginx is Debian's (CI installs it, as it does chromium);
without it these tests are skipped, saying why.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import empty_tables
from tests.live.instances import (
    NGINX,
    NGINX_MISSING,
    TIMEOUT,
    Instance,
    Shopper,
    nginx,
    serving,
)
from tests.live_server import free_port

if not NGINX:
    pytest.skip(NGINX_MISSING, allow_module_level=True)

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

LOAD_SECONDS = 6.5
STOP_AFTER_SECONDS = 1.5
LOAD_THREADS = 4


@pytest.fixture(scope="module")
def instance_b(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """The instance that stays up for the whole module."""
    log = tmp_path_factory.mktemp("instance-b") / "gunicorn.log"
    with serving(postgres, free_port(), log) as instance:
        yield instance


@pytest.fixture
def instance_a(postgres: str, tmp_path: Path) -> Iterator[Instance]:
    """The instance each test may stop: a fresh one per test."""
    with serving(postgres, free_port(), tmp_path / "instance-a.log") as instance:
        yield instance


@pytest.fixture
def products(postgres: str, instance_b: Instance) -> Iterator[list[int]]:
    """Two products made through the admin API, on an otherwise empty database."""
    empty_tables(postgres)
    items = [
        {"name": "Ручка", "price": "49.90", "category": "Канцелярия"},
        {"name": "Блокнот", "price": "120", "category": "Канцелярия"},
    ]
    reply = Shopper().send(instance_b.port, "POST", "/api/products/bulk", items)
    assert reply.status == 201, reply.body
    yield [product["id"] for product in reply.body]
    empty_tables(postgres)


def test_a_cart_moves_between_instances(
    instance_a: Instance, instance_b: Instance, products: list[int]
) -> None:
    """Filled through A; read, changed and emptied through B; each step seen through A."""
    pen, notebook = products
    a, b = instance_a.port, instance_b.port
    shopper = Shopper()
    assert shopper.send(a, "POST", "/api/cart/", {"product_id": pen, "quantity": 2}).status == 201
    assert shopper.send(a, "POST", "/api/cart/", {"product_id": notebook}).status == 201

    assert shopper.lines(b) == {pen: 2, notebook: 1}
    changed = shopper.send(b, "PUT", f"/api/cart/{shopper.item_id(b, pen)}/", {"quantity": 5})
    assert changed.status == 200
    assert shopper.lines(a) == {pen: 5, notebook: 1}
    removed = shopper.send(b, "DELETE", f"/api/cart/{shopper.item_id(b, notebook)}/")
    assert removed.status == 200
    assert shopper.lines(a) == {pen: 5}
    assert shopper.send(b, "DELETE", "/api/cart/").status == 200
    assert shopper.lines(a) == {}
    assert shopper.lines(b) == {}


def served_by(instances: list[Instance], request_ids: list[str]) -> dict[str, dict[str, Any]]:
    """{request id: its access-log entry}, from whichever instance logged it."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + TIMEOUT
    # gunicorn writes an access line just after the response: give the last one a moment.
    while len(found) < len(request_ids) and time.monotonic() < deadline:
        for instance in instances:
            for entry in instance.access():
                if entry["request_id"] in request_ids:
                    found[entry["request_id"]] = {**entry, "port": instance.port}
        time.sleep(0.05)
    return found


def test_a_cart_through_nginx_is_served_by_both(
    instance_a: Instance, instance_b: Instance, products: list[int]
) -> None:
    """Through nginx, round robin: one cart's requests land on both instances, and each gets
    nginx's request id and the client's address in X-Forwarded-For."""
    pen, notebook = products
    with nginx([instance_a.port, instance_b.port]) as proxy:
        shopper = Shopper()
        replies = [
            shopper.send(proxy.port, "POST", "/api/cart/", {"product_id": pen}),
            shopper.send(proxy.port, "POST", "/api/cart/", {"product_id": notebook}),
            shopper.send(proxy.port, "POST", "/api/cart/", {"product_id": pen}),
        ]
        assert [reply.status for reply in replies] == [201, 201, 201]
        for _ in range(4):
            assert shopper.lines(proxy.port) == {pen: 2, notebook: 1}
        item = shopper.item_id(proxy.port, pen)
        replies.append(shopper.send(proxy.port, "PUT", f"/api/cart/{item}/", {"quantity": 7}))
        replies.append(shopper.send(proxy.port, "DELETE", "/api/cart/"))
        assert [reply.status for reply in replies[3:]] == [200, 200]
        assert shopper.lines(proxy.port) == {}

    ids = [reply.request_id for reply in replies if reply.request_id]
    assert len(ids) == len(replies)
    served = served_by([instance_a, instance_b], ids)
    assert set(served) == set(ids), "every request nginx answered was served by an instance"
    assert {entry["port"] for entry in served.values()} == {instance_a.port, instance_b.port}
    assert {entry["forwarded_for"] for entry in served.values()} == {"127.0.0.1"}


def load(port: int, paths: list[str], seconds: float) -> list[tuple[float, int | str]]:
    """GETs through `port` from a few keep-alive clients for `seconds`: (time, status or error)."""
    results: list[tuple[float, int | str]] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        turn = offset
        while time.monotonic() < end:
            path = paths[turn % len(paths)]
            turn += 1
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                outcome: int | str = response.status
            except Exception as error:  # every failure counts, whatever its kind
                outcome = f"{path}: {error!r}"
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            with lock:
                results.append((time.monotonic(), outcome))
            # A bounded load: a few hundred requests, not as many as the machine can answer.
            time.sleep(0.02)
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 2 * TIMEOUT)
    return results


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_an_instance_mid_load_loses_no_get(
    how: signal.Signals, instance_a: Instance, instance_b: Instance, products: list[int]
) -> None:
    """A is stopped (gracefully, or killed with its workers) while GETs flow through nginx:
    every one of them is answered 200, the ones nginx sent to A after it went retried on B."""
    pen, _ = products
    paths = [
        "/api/products/",
        f"/api/products/{pen}/",
        "/api/categories/",
        "/api/products/?search=" + quote("ручка"),
        "/api/cart/",
        "/healthz",
    ]
    assert instance_a.process is not None
    with nginx([instance_a.port, instance_b.port]) as proxy:
        stopped: list[float] = []

        def stop_a() -> None:
            time.sleep(STOP_AFTER_SECONDS)
            if how == signal.SIGKILL:
                # The master and its workers at once, as when a container is killed.
                os.killpg(instance_a.process.pid, how)
            else:
                # The master alone, as `docker stop` does: it stops its workers gracefully.
                instance_a.process.send_signal(how)
            instance_a.process.wait(timeout=TIMEOUT)
            stopped.append(time.monotonic())

        stopper = threading.Thread(target=stop_a)
        stopper.start()
        started = time.monotonic()
        results = load(proxy.port, paths, LOAD_SECONDS)
        stopper.join(timeout=2 * TIMEOUT)
        errors = proxy.error_log.read_text()

    assert stopped, "instance A did not stop"
    outcomes = Counter(outcome for _, outcome in results)
    assert outcomes == {200: len(results)}, outcomes
    after = [t for t, _ in results if t > stopped[0]]
    assert len(results) > 100 and len(after) > 20, (len(results), len(after))
    assert stopped[0] - started < LOAD_SECONDS - 1
    # A was in rotation before it stopped, and nginx did try it afterwards (and moved on).
    assert instance_a.access(), "instance A served nothing before it stopped"
    assert f"127.0.0.1:{instance_a.port}" in errors, errors
