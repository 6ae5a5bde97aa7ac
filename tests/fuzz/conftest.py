"""A live gunicorn over a private PostgreSQL database, seeded, for the OpenAPI fuzzing.

The server is started the way production runs it (gunicorn, `STOREFRONT_ENV=production`, the
project's `gunicorn.conf.py`), on 127.0.0.1 only, and always stopped afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import migrate, postgres_url, private_postgres
from tests.live_server import free_port, live_process

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
# Production mode refuses a weak key; a fresh random one per run is as strong as they come.
SECRET_KEY = secrets.token_urlsafe(48)
ADMIN_TOKEN = "fuzz-test-admin-token-0123456789"
DEMO_CATALOG = ROOT / "storefront" / "data" / "demo_products.json"
STARTUP_SECONDS = 30


def http(
    method: str, url: str, data: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One plain HTTP request (standard library only); its status and parsed JSON body."""
    sent = dict(headers or {})
    payload = None
    if data is not None:
        payload = json.dumps(data).encode()
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=payload, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


@pytest.fixture(scope="session")
def fuzz_database() -> Iterator[str]:
    """A migrated PostgreSQL database of our own (the fuzzing writes a lot; nobody else uses it)."""
    with private_postgres(postgres_url(), suffix="_fuzz") as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def live_server(fuzz_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A production-mode gunicorn on a free port of 127.0.0.1; its base URL."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "DATABASE_URL": fuzz_database,
        "SECRET_KEY": SECRET_KEY,
        "STOREFRONT_ENV": "production",
        "STOREFRONT_ADMIN_TOKEN": ADMIN_TOKEN,
        # The fuzzer sends thousands of writes from one address in a minute: no rate limit.
        "RATE_LIMITS": "off",
    }
    # The project's settings (limit_request_line above all, which the 414 checks rely on); one
    # worker is plenty for one sequential client, and leaves the second core to the fuzzer.
    command = [str(GUNICORN), "--config", "gunicorn.conf.py", "-w", "1", "--threads", "4"]
    command += ["-b", f"127.0.0.1:{port}", "wsgi:app"]
    log_path = tmp_path_factory.mktemp("fuzz-gunicorn") / "gunicorn.log"
    base_url = f"http://127.0.0.1:{port}"
    with live_process(command, env, log_path, lambda: http("GET", f"{base_url}/healthz")[0] == 200):
        yield base_url


@pytest.fixture(scope="session")
def seeded(live_server: str) -> list[int]:
    """The demo catalog loaded through the admin bulk endpoint, so that product ids exist."""
    items = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    status, body = http(
        "POST",
        f"{live_server}/api/products/bulk",
        items,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert status == 201, body
    return [product["id"] for product in body]
