"""Does the lean baseline answer what the app answers? Checked at capture, before any run.

For a sample of a scenario's pool, each request goes to the app and to bench/lean_app.py (both
under gunicorn, over HTTP, with the same cookies and body): the two must answer the same status
and, for JSON, the same keys at every level (an item of a list stands for all of them). A read
(GET) answering JSON must also answer the same values (decimals compared as numbers): the lean
SQL must find the same rows in the same order. A mismatch stops the scenario being counted.
"""

from __future__ import annotations

import http.client
from typing import Any

import simplejson

from bench.workload import Request

SAMPLE = 16


def fetch(port: int, request: Request, cookie: str | None) -> tuple[int, str, Any]:
    """(status, content type, parsed JSON body or the text) of one request."""
    headers = {"Cookie": cookie} if cookie else {}
    if request.body:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(request.method, request.path, body=request.body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        kind = (response.getheader("Content-Type") or "").split(";")[0].strip()
    finally:
        connection.close()
    if kind.endswith("json"):
        return response.status, kind, simplejson.loads(raw, use_decimal=True)
    return response.status, kind, raw.decode("utf-8", "replace")


def keys(value: Any) -> Any:
    """The JSON's keys at every level: a dict's keys with theirs, a list's first item's."""
    if isinstance(value, dict):
        return {key: keys(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return None


def differences(app_port: int, lean_port: int, requests: list[Request], cookies) -> list[str]:
    """What differs between the app's answers and the lean baseline's, one line per request."""
    found = []
    for request in list(dict.fromkeys(requests))[:SAMPLE]:
        cookie = cookies[request.session] if request.session else None
        app = fetch(app_port, request, cookie)
        lean = fetch(lean_port, request, cookie)
        what = f"{request.method} {request.path}"
        if app[0] != lean[0] or app[1] != lean[1]:
            found.append(f"{what}: app {app[0]} {app[1]}, lean {lean[0]} {lean[1]}")
        elif app[1].endswith("json") and keys(app[2]) != keys(lean[2]):
            found.append(f"{what}: keys differ: app {keys(app[2])}, lean {keys(lean[2])}")
        elif request.method == "GET" and app[1].endswith("json") and app[2] != lean[2]:
            app_text, lean_text = str(app[2])[:300], str(lean[2])[:300]
            found.append(f"{what}: values differ: app {app_text}, lean {lean_text}")
    return found
