"""The app restarted (gunicorn reload and a full restart): products and carts are all there."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import ADMIN, Browser, Cluster, live_server, worker_pids

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.timeout(120)]

RELOAD_SECONDS = 20


def snapshot(browser: Browser) -> tuple[Any, Any]:
    """The session's cart and the catalog as the API shows them."""
    cart = browser.get("/api/cart/")
    catalog = browser.get("/api/products/?limit=100")
    assert cart.status == 200 and catalog.status == 200
    return cart.json(), catalog.json()


def wait_for_new_workers(master: int, old: set[int]) -> None:
    """Wait until gunicorn has replaced every worker of `old` with a new one."""
    deadline = time.monotonic() + RELOAD_SECONDS
    while time.monotonic() < deadline:
        now = worker_pids(master)
        if now and not now & old:
            return
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not replace its workers {old} within {RELOAD_SECONDS} s")


def test_carts_and_products_survive_reload_and_restart(
    cluster: Cluster, database: str, tmp_path: Path
) -> None:
    """The same cookie finds the same cart after `kill -HUP` and after a new gunicorn."""
    url = cluster.database_url(database)
    browser = Browser(0)
    with live_server(url, tmp_path / "first.log") as (master, port):
        browser.port = port
        items = [
            {"name": "Ручка", "price": "49.90", "category": "Канцелярия"},
            {"name": "Мышь", "price": 990, "category": "Электроника"},
        ]
        made = browser.post("/api/products/bulk", items, ADMIN)
        assert made.status == 201, made.text
        pen, mouse = (product["id"] for product in made.json())
        assert browser.post("/api/cart/", {"product_id": pen, "quantity": 3}).status == 201
        assert browser.post("/api/cart/", {"product_id": mouse}).status == 201
        cookie = browser.cookie
        before = snapshot(browser)
        assert before[0]["total_quantity"] == 4

        old = worker_pids(master.pid)
        os.kill(master.pid, signal.SIGHUP)
        wait_for_new_workers(master.pid, old)
        assert snapshot(browser) == before
        assert browser.cookie == cookie
        assert "990" in browser.get("/cart").text

    # A new process from scratch (same SECRET_KEY, as every instance must have).
    with live_server(url, tmp_path / "second.log") as (_, port):
        browser.port = port
        assert snapshot(browser) == before
        # The cart still takes changes from the same cookie.
        assert browser.post("/api/cart/", {"product_id": mouse}).status == 201
        assert browser.get("/api/cart/").json()["total_quantity"] == 5
