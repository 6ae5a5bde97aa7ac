"""Fault tests: a throwaway PostgreSQL cluster of their own, which they stop, start and lock.

Never the shared TEST_DATABASE_URL cluster: stopping that one would break every other test.
The cluster is made once per session (initdb costs a second or two); each module gets a fresh,
migrated database in it. Live servers are production-mode gunicorns on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import migrate
from tests.live_server import free_port, live_process

ROOT = Path(__file__).resolve().parents[2]
THROWAWAY_PG = ROOT / "scripts" / "throwaway-pg"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
# Production mode refuses a weak key; a fresh random one per run is as strong as they come.
SECRET_KEY = secrets.token_urlsafe(48)
ADMIN_TOKEN = "faults-test-admin-token-0123456789"
COOKIE = "storefront_session"
REQUEST_TIMEOUT = 15  # seconds; a request that hangs this long fails the test


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster that tests may stop and start again on the same port."""

    directory: Path
    url: str
    bindir: str = field(init=False)

    def __post_init__(self) -> None:
        env = (self.directory / "throwaway-pg.env").read_text()
        self.bindir = env.strip().partition("=")[2]

    @property
    def port(self) -> int:
        """The port the server listens on."""
        port = make_url(self.url).port
        assert port is not None
        return port

    def _pg_ctl(self, *args: str) -> None:
        # PostgreSQL refuses to run as root: throwaway-pg made `postgres` own the cluster.
        owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = [*owner, f"{self.bindir}/pg_ctl", "-D", str(self.directory / "data"), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast` ends sessions cleanly, `immediate` is a crash)."""
        self._pg_ctl("-m", mode, "-w", "-t", "30", "stop")

    def start(self) -> None:
        """Start the server again on its port, with its data."""
        log = str(self.directory / "postgres.log")
        self._pg_ctl("-l", log, "-o", f"-p {self.port}", "-w", "-t", "30", "start")

    def database_url(self, name: str) -> str:
        """The URL of database `name` in this cluster."""
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def connect(self, name: str, **kwargs: Any) -> psycopg.Connection[Any]:
        """A plain psycopg connection to database `name` (to lock rows, count, add triggers)."""
        url = make_url(self.database_url(name))
        return psycopg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            dbname=url.database,
            **kwargs,
        )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of the fault tests' own, removed at the end of the session."""
    # Under /tmp: the `postgres` user must reach it, and its socket path must stay short.
    directory = Path(tempfile.mkdtemp(prefix="sf-faults-", dir="/tmp"))
    started = subprocess.run(
        [str(THROWAWAY_PG), "start", str(directory)], capture_output=True, text=True, timeout=180
    )
    if started.returncode != 0:
        subprocess.run([str(THROWAWAY_PG), "stop", str(directory)], timeout=60)
        if "no PostgreSQL server binaries" in started.stderr:
            # As the browser tests do without chromium; CI installs postgresql-15 (.ci/run).
            pytest.skip("the fault tests need PostgreSQL's server binaries (postgresql-15)")
        pytest.fail(f"throwaway-pg could not start a cluster:\n{started.stderr}")
    try:
        yield Cluster(directory, started.stdout.strip())
    finally:
        subprocess.run([str(THROWAWAY_PG), "stop", str(directory)], timeout=90)


@pytest.fixture(scope="module")
def database(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """The name of a fresh, migrated database in the cluster for this test module."""
    name = "faults_" + request.module.__name__.rpartition(".")[2].removeprefix("test_")
    with cluster.connect("postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    migrate(cluster.database_url(name))
    return name


def app_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a production-mode app process on `database_url`."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "STOREFRONT_ENV": "production",
        "STOREFRONT_ADMIN_TOKEN": ADMIN_TOKEN,
        "RATE_LIMITS": "off",
        **settings,
    }


@dataclass
class Reply:
    """What one request got back."""

    status: int
    headers: http.client.HTTPMessage
    text: str
    seconds: float

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.text)


@dataclass
class Browser:
    """Plain HTTP to a live server, keeping the session cookie as a browser would."""

    port: int
    cookie: str | None = None

    def request(
        self, method: str, path: str, data: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        """One request on its own connection; the session cookie is kept when one is set."""
        sent = dict(headers or {})
        payload = None
        if data is not None:
            payload = json.dumps(data).encode()
            sent["Content-Type"] = "application/json"
        if self.cookie:
            sent["Cookie"] = f"{COOKIE}={self.cookie}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        started = time.monotonic()
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8")
        finally:
            connection.close()
        set_cookie = response.getheader("Set-Cookie") or ""
        if set_cookie.startswith(f"{COOKIE}="):
            self.cookie = set_cookie.split(";", 1)[0].partition("=")[2]
        return Reply(response.status, response.headers, text, time.monotonic() - started)

    def get(self, path: str) -> Reply:
        """GET `path`."""
        return self.request("GET", path)

    def post(self, path: str, data: Any, headers: dict[str, str] | None = None) -> Reply:
        """POST `data` as JSON."""
        return self.request("POST", path, data, headers)


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@contextmanager
def live_server(
    database_url: str, log_path: Path, *, workers: int = 2, threads: int = 2, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A production-mode gunicorn (the project's gunicorn.conf.py) on a free port: (process, port).

    Small on purpose: `workers × threads` is how many pooled connections the app can hold.
    """
    port = free_port()
    command = [str(GUNICORN), "-w", str(workers), "--threads", str(threads)]
    command += ["-b", f"127.0.0.1:{port}", "wsgi:app"]
    env = app_env(database_url, **settings)
    ready = Browser(port)
    with live_process(
        command, env, log_path, lambda: ready.get("/healthz").status == 200
    ) as process:
        yield process, port


def worker_pids(master: int) -> set[int]:
    """The gunicorn master's current child processes."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text()
    return {int(pid) for pid in children.split()}


@dataclass
class Shop:
    """A live app with one product, which is also in `browser`'s cart."""

    port: int
    log: Path
    product_id: int
    browser: Browser


@contextmanager
def stocked_shop(database_url: str, log_path: Path, **options: Any) -> Iterator[Shop]:
    """`live_server(database_url, log_path, **options)` with a product and a cart in it."""
    with live_server(database_url, log_path, **options) as (_, port):
        browser = Browser(port)
        made = browser.post(
            "/api/products/bulk", [{"name": "Ручка", "price": 49, "category": "Канцелярия"}], ADMIN
        )
        assert made.status == 201, made.text
        product_id = made.json()[0]["id"]
        assert browser.post("/api/cart/", {"product_id": product_id}).status == 201
        yield Shop(port, log_path, product_id, browser)
