"""App instances as production runs them (gunicorn.conf.py) and nginx before them, for live tests.

Every instance signs cookies with the same key and shares one PostgreSQL; a `Shopper` carries
its session cookie from one instance to another.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live_server import ROOT, free_port, live_process

# Debian's nginx (CI installs it); None when it is missing, and the tests that need it skip
# saying so (tests/missing_tools.py reads the reason).
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
NGINX_MISSING = "nginx is not installed: apt-get install -y --no-install-recommends nginx-light"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
SHIPPED_CONFIG = ROOT / "deploy" / "nginx" / "storefront.conf"
# Every instance signs and reads session cookies with the same key (random per run).
SECRET_KEY = secrets.token_urlsafe(48)
ADMIN_TOKEN = "scale-out-admin-token-0123456789"
COOKIE = "storefront_session"
TIMEOUT = 10  # seconds, for every request and wait


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
    """One gunicorn (gunicorn.conf.py, gthread workers) and its log (access lines are JSON)."""

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
def serving(database: str, port: int, log: Path, workers: int = 2) -> Iterator[Instance]:
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
        "WEB_CONCURRENCY": str(workers),
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
