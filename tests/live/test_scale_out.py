"""Two app instances behind nginx (the shipped config) over one PostgreSQL.

The app keeps no state of its own, so a cart filled through one instance is read, changed and
emptied through the other, and an instance that stops in the middle of a load costs no GET:
nginx retries it on the other one. nginx is Debian's (CI installs it, as it does chromium);
without it these tests are skipped, saying why.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import empty_tables
from tests.live_server import ROOT, free_port, live_process

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
if not NGINX:
    pytest.skip(
        "nginx is not installed: apt-get install -y --no-install-recommends nginx-light",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
SHIPPED_CONFIG = ROOT / "deploy" / "nginx" / "storefront.conf"
# Every instance signs and reads session cookies with the same key (random per run).
SECRET_KEY = secrets.token_urlsafe(48)
ADMIN_TOKEN = "scale-out-admin-token-0123456789"
COOKIE = "storefront_session"
TIMEOUT = 10  # seconds, for every request and wait
LOAD_SECONDS = 6.5
STOP_AFTER_SECONDS = 1.5
LOAD_THREADS = 4


@dataclass(frozen=True)
class Reply:
    """What a request got back."""

    status: int
    body: Any
    request_id: str | None


class Shopper:
    """One browser: a session cookie carried from request to request, whichever server."""

    def __init__(self) -> None:
        self.cookie: str | None = None

    def send(self, port: int, method: str, path: str, data: Any = None) -> Reply:
        """One request on its own connection; a new session cookie replaces the old one."""
        headers = {}
        payload = None
        if data is not None:
            payload = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        if method != "GET" and path.startswith("/api/products"):
            headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        set_cookie = response.getheader("Set-Cookie") or ""
        if set_cookie.startswith(f"{COOKIE}="):
            self.cookie = set_cookie.split(";", 1)[0].partition("=")[2]
        body = json.loads(raw) if raw and "json" in response.getheader("Content-Type", "") else raw
        return Reply(response.status, body, response.getheader("X-Request-ID"))

    def lines(self, port: int) -> dict[int, int]:
        """The cart as {product id: quantity}, read through `port`."""
        reply = self.send(port, "GET", "/api/cart/")
        assert reply.status == 200, reply.body
        return {item["product"]["id"]: item["quantity"] for item in reply.body["items"]}

    def item_id(self, port: int, product_id: int) -> int:
        """The id of the cart line holding `product_id`."""
        reply = self.send(port, "GET", "/api/cart/")
        return next(i["id"] for i in reply.body["items"] if i["product"]["id"] == product_id)


@dataclass
class Instance:
    """One gunicorn (gunicorn.conf.py, 2 workers) and its log (access lines are JSON)."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def access(self) -> list[dict[str, Any]]:
        """The access-log entries written so far."""
        entries = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "path" in entry and "status" in entry:
                entries.append(entry)
        return entries


@contextmanager
def serving(database: str, port: int, log: Path) -> Iterator[Instance]:
    """An instance as production runs it, bound to 127.0.0.1:`port` until the block ends."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(log.parent),
        "DATABASE_URL": database,
        "SECRET_KEY": SECRET_KEY,
        "STOREFRONT_ENV": "production",
        "STOREFRONT_ADMIN_TOKEN": ADMIN_TOKEN,
        "TRUSTED_PROXIES": "1",
        "RATE_LIMITS": "off",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
    }
    command = [str(GUNICORN), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    command.append("wsgi:app")
    instance = Instance(port, log)

    def ready() -> bool:
        return Shopper().send(port, "GET", "/healthz").status == 200

    with live_process(command, env, log, ready) as process:
        instance.process = process
        yield instance


def local_config(upstreams: list[int], listen: int) -> str:
    """The shipped config with its upstream and `listen` lines pointed at local ports."""
    text = SHIPPED_CONFIG.read_text()
    text, found = re.subn(
        r"^(\s*)server\s+backend-scaled:8000\b([^;]*);",
        lambda m: "\n".join(f"{m[1]}server 127.0.0.1:{port}{m[2]};" for port in upstreams),
        text,
        flags=re.M,
    )
    assert found == 1, "the shipped config's upstream line changed: update this test"
    text, found = re.subn(r"^(\s*)listen\s+80;", rf"\1listen 127.0.0.1:{listen};", text, flags=re.M)
    assert found == 1, "the shipped config's listen line changed: update this test"
    return text


@dataclass
class Nginx:
    """A running nginx: its port and error log."""

    port: int
    error_log: Path


@contextmanager
def nginx(upstreams: list[int]) -> Iterator[Nginx]:
    """Debian's nginx in the foreground with the shipped config; everything under a temp dir."""
    prefix = Path(tempfile.mkdtemp(prefix="storefront-nginx-"))
    # Run as root, nginx's workers are `nobody`: they must reach the temp directories.
    prefix.chmod(0o755)
    (prefix / "temp").mkdir(mode=0o755)
    port = free_port()
    (prefix / "storefront.conf").write_text(local_config(upstreams, port))
    temps = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    # As the official image's nginx.conf does (the compose profile's), the shipped file is
    # included inside http {}; the paths nginx writes to are the test's own.
    main = f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {prefix}/access.log;
    {" ".join(f"{name}_temp_path {prefix}/temp/{name};" for name in temps)}
    include {prefix}/storefront.conf;
}}
"""
    (prefix / "nginx.conf").write_text(main)
    command = [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log")]
    command += ["-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]

    def ready() -> bool:
        return Shopper().send(port, "GET", "/healthz").status == 200

    # nginx writes why it exits to stderr as well as to its error log.
    try:
        with live_process(
            command, dict(os.environ), prefix / "stderr.log", ready, TIMEOUT, "nginx"
        ):
            yield Nginx(port, prefix / "error.log")
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres(database_url: str) -> str:
    """The migrated PostgreSQL database that every instance shares."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("several instances share one PostgreSQL: not tested on SQLite")
    return database_url


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
