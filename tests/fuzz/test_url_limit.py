"""Long URLs against the live gunicorn (gunicorn.conf.py): the app answers up to the server's limit.

Every URL a client can send under gunicorn's request-line limit is answered by the app, as
problem+json past MAX_URL_BYTES; only a request line longer than gunicorn reads at all gets
gunicorn's own HTML 414.
"""

from __future__ import annotations

import runpy
import socket
from urllib.parse import urlsplit

import pytest

from storefront.routing import MAX_URL_BYTES
from tests.fuzz.conftest import ROOT

pytestmark = [pytest.mark.live, pytest.mark.timeout(60)]
PATH = "/api/products/?search=x&pad="


def send_line(base_url: str, target: str) -> tuple[int, str, bytes]:
    """Send `GET target HTTP/1.1` as is; the status, Content-Type and body of the answer."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        request = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        connection.sendall(request.encode("ascii"))
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return int(lines[0].split()[1]), content_type, body


def target_of(length: int) -> str:
    """A catalog URL of exactly `length` bytes (an unknown parameter pads it)."""
    return PATH + "x" * (length - len(PATH))


def test_the_app_answers_every_url_gunicorn_reads(live_server: str) -> None:
    """At MAX_URL_BYTES: 200; past it, up to gunicorn's limit: problem+json 414; past that: HTML."""
    limit = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["limit_request_line"]
    longest = limit - len("GET  HTTP/1.1")

    status, _, _ = send_line(live_server, target_of(MAX_URL_BYTES))
    assert status == 200
    for length in (MAX_URL_BYTES + 1, longest):
        status, content_type, body = send_line(live_server, target_of(length))
        assert (status, content_type) == (414, "application/problem+json"), body[:200]
        assert f"{MAX_URL_BYTES} bytes".encode() in body

    status, content_type, _ = send_line(live_server, target_of(longest + 1))
    assert status == 414 and "json" not in content_type  # gunicorn's own page
